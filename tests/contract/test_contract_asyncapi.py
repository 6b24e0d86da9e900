"""docs/asyncapi.yaml is the generated message catalog; the build fails when it is stale.

Refresh: `MARATRON_UPDATE_SNAPSHOTS=1 make test`, or `uv run maratron catalog > docs/asyncapi.yaml`.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from maratron_contracts.asyncapi import build_document
from maratron_contracts.registry import load_all

DOC = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml"


def render() -> str:
    return yaml.safe_dump(build_document(), sort_keys=True, width=100, allow_unicode=True)


def test_asyncapi_document_is_up_to_date() -> None:
    current = render()
    if os.environ.get("MARATRON_UPDATE_SNAPSHOTS") == "1":
        DOC.write_text(current)
    assert DOC.is_file() and DOC.read_text() == current, (
        "docs/asyncapi.yaml is stale: refresh it with MARATRON_UPDATE_SNAPSHOTS=1 make test"
    )


def test_catalog_covers_every_subject() -> None:
    doc = build_document()
    registry = load_all()
    addresses = {c["address"] for c in doc["channels"].values()}
    for service, name in registry.commands:
        assert f"maratron.cmd.{service}.{name}" in addresses
    for etype, ecls in registry.events.items():
        assert f"maratron.evt.{ecls.category}.{etype}" in addresses
    for ref in (m["payload"]["allOf"][1] for m in doc["components"]["messages"].values()
                if "allOf" in m["payload"]):  # fmt: skip
        target = next(iter(next(iter(ref["properties"].values())).values()))
        assert target.removeprefix("#/components/schemas/") in doc["components"]["schemas"]
