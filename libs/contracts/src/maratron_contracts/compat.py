"""Backward-compatibility rules for message JSON Schemas.

A change is compatible when every message valid under the old schema is still valid under the new
one and still means the same: adding an optional property, widening a constraint or adding an
enum value are fine; removing or renaming a property, changing a type, making a property required,
tightening a constraint or removing an enum value are not.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]
_TIGHTENING = {
    "maxLength": min,
    "maximum": min,
    "exclusiveMaximum": min,
    "maxItems": min,
    "minLength": max,
    "minimum": max,
    "exclusiveMinimum": max,
    "minItems": max,
}


def _resolve(schema: Schema, root: Schema) -> Schema:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return _resolve(root["$defs"][ref.removeprefix("#/$defs/")], root)
    return schema


def _types(schema: Schema) -> set[str]:
    if "type" in schema:
        t = schema["type"]
        return set(t) if isinstance(t, list) else {t}
    out: set[str] = set()
    for key in ("anyOf", "oneOf"):
        for sub in schema.get(key, []):
            out |= _types(sub) if "$ref" not in sub else {"object"}
    return out


def breaking_changes(old: Schema, new: Schema, path: str = "$") -> list[str]:
    """Human-readable list of the incompatible differences between two schemas."""
    return _compare(old, new, old, new, path)


def _compare(old: Schema, new: Schema, old_root: Schema, new_root: Schema, path: str) -> list[str]:
    old, new = _resolve(old, old_root), _resolve(new, new_root)
    problems: list[str] = []
    old_types, new_types = _types(old), _types(new)
    if old_types and new_types and not old_types <= new_types:
        lost = sorted(old_types - new_types)
        problems.append(f"{path}: type no longer accepts {lost}")
    if "enum" in old and "enum" in new:
        removed = [v for v in old["enum"] if v not in new["enum"]]
        if removed:
            problems.append(f"{path}: enum values removed {removed}")
    elif "enum" in new and "enum" not in old:
        problems.append(f"{path}: restricted to an enum")
    if "const" in new and new.get("const") != old.get("const"):
        problems.append(f"{path}: const changed to {new['const']!r}")
    for key, pick in _TIGHTENING.items():
        if key in new:
            if key not in old:
                problems.append(f"{path}: new constraint {key}={new[key]}")
            elif pick(old[key], new[key]) == new[key] and old[key] != new[key]:
                problems.append(f"{path}: {key} tightened {old[key]} -> {new[key]}")
    old_props: Schema = old.get("properties", {})
    new_props: Schema = new.get("properties", {})
    for name in old_props:
        if name not in new_props and new.get("additionalProperties") is False:
            problems.append(f"{path}.{name}: property removed")
        elif name in new_props:
            problems += _compare(
                old_props[name], new_props[name], old_root, new_root, f"{path}.{name}"
            )
    newly_required = set(new.get("required", [])) - set(old.get("required", []))
    for name in sorted(newly_required):
        problems.append(f"{path}.{name}: became required")
    if "items" in old and "items" in new:
        problems += _compare(old["items"], new["items"], old_root, new_root, f"{path}[]")
    return problems
