"""Every message's JSON Schema is snapshotted in tests/contract/schemas/.

* A message whose schema changed incompatibly fails the build (see schema_compat).
* A compatible change, a new message or a removed one also fails until the snapshot is refreshed
  with `MARATRON_UPDATE_SNAPSHOTS=1 make test` — so every contract change is reviewed in a diff.
* An event version may only disappear when an upcaster carries it to the current version; its
  snapshot stays, as the record of what stored events of that version look like.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from maratron_contracts.compat import breaking_changes
from maratron_contracts.registry import load_all

SNAPSHOTS = Path(__file__).parent / "schemas"
UPDATE = os.environ.get("MARATRON_UPDATE_SNAPSHOTS") == "1"


def _current() -> dict[str, dict[str, Any]]:
    return load_all().json_schemas()


def _stored() -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(SNAPSHOTS.glob("*.json"))}


def _historical(name: str) -> bool:
    """An older version of a current event type: kept as history (stored events have it)."""
    kind, *_, etype, version = name.split(".")
    current = load_all().events.get(etype)
    return kind == "event" and current is not None and int(version[1:]) < current.schema_version


def _write(schemas: dict[str, dict[str, Any]]) -> None:
    SNAPSHOTS.mkdir(exist_ok=True)
    for stale in SNAPSHOTS.glob("*.json"):
        if stale.stem not in schemas and not _historical(stale.stem):
            stale.unlink()
    for name, schema in schemas.items():
        (SNAPSHOTS / f"{name}.json").write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")


def test_no_incompatible_schema_change() -> None:
    current, stored = _current(), _stored()
    problems = [
        f"{name}: {p}"
        for name, old in stored.items()
        if name in current
        for p in breaking_changes(old, current[name])
    ]
    assert not problems, (
        "incompatible contract changes (add a new schema version with an upcaster instead):\n"
        + "\n".join(problems)
    )


def test_removed_event_versions_have_upcasters() -> None:
    registry = load_all()
    current, stored = _current(), _stored()
    for name in stored.keys() - current.keys():
        kind, *_, etype, version = name.split(".")
        if kind != "event":
            continue
        old = int(version.removeprefix("v"))
        if etype not in registry.events:
            pytest.fail(f"event type {etype} disappeared: stored events could not be read")
        registry.upcast(etype, old, {})  # raises when a step of the chain is missing


def test_snapshots_are_up_to_date() -> None:
    current = _current()
    if UPDATE:
        _write(current)
    stored = _stored()
    added = sorted(current.keys() - stored.keys())
    removed = sorted(k for k in stored.keys() - current.keys() if not _historical(k))
    changed = sorted(k for k in current.keys() & stored.keys() if current[k] != stored[k])
    assert not (added or removed or changed), (
        "contract schemas differ from tests/contract/schemas/ "
        f"(added {added}, removed {removed}, changed {changed}); review and refresh with "
        "MARATRON_UPDATE_SNAPSHOTS=1 make test"
    )
