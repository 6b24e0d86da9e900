"""The compatibility checker itself must be able to say no."""

from __future__ import annotations

from maratron_contracts.compat import breaking_changes

BASE = {
    "type": "object",
    "properties": {"a": {"type": "string", "maxLength": 10}, "b": {"type": "integer"}},
    "required": ["a"],
    "additionalProperties": False,
}


def _with(**changes: object) -> dict[str, object]:
    schema = {**BASE, "properties": dict(BASE["properties"])}  # type: ignore[arg-type]
    schema.update(changes)
    return schema


def test_adding_optional_property_is_compatible() -> None:
    new = _with(properties={**BASE["properties"], "c": {"type": "string"}})  # type: ignore[dict-item]
    assert breaking_changes(BASE, new) == []


def test_removing_property_breaks() -> None:
    new = _with(properties={"a": {"type": "string", "maxLength": 10}})
    assert any("property removed" in p for p in breaking_changes(BASE, new))


def test_new_required_breaks() -> None:
    assert any("became required" in p for p in breaking_changes(BASE, _with(required=["a", "b"])))


def test_type_change_breaks() -> None:
    new = _with(properties={**BASE["properties"], "b": {"type": "string"}})  # type: ignore[dict-item]
    assert any("type no longer accepts" in p for p in breaking_changes(BASE, new))


def test_tightening_breaks_and_widening_does_not() -> None:
    tighter = _with(properties={**BASE["properties"], "a": {"type": "string", "maxLength": 5}})  # type: ignore[dict-item]
    wider = _with(properties={**BASE["properties"], "a": {"type": "string", "maxLength": 50}})  # type: ignore[dict-item]
    assert any("tightened" in p for p in breaking_changes(BASE, tighter))
    assert breaking_changes(BASE, wider) == []


def test_enum_value_removed_breaks() -> None:
    old = {"type": "string", "enum": ["km", "mi"]}
    assert breaking_changes(old, {"type": "string", "enum": ["km", "mi", "m"]}) == []
    assert breaking_changes(old, {"type": "string", "enum": ["km"]})
