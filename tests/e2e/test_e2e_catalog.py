"""`catalog://events` serves the generated message catalog over MCP."""

from __future__ import annotations

import json

import pytest
from maratron_contracts.registry import load_all

from tests.e2e.conftest import Connect

pytestmark = pytest.mark.integration


async def test_catalog_resource_lists_every_subject(
    connect: Connect, gateway_url: str, athlete_id: str
) -> None:
    async with connect(gateway_url, athlete_id) as client:
        (content,) = await client.read_resource("catalog://events")
    document = json.loads(content.text)  # type: ignore[union-attr]
    assert document["asyncapi"].startswith("3.")
    addresses = {c["address"] for c in document["channels"].values()}
    namespace = next(iter(addresses)).split(".")[0]
    for service, name in load_all().commands:
        assert f"{namespace}.cmd.{service}.{name}" in addresses
    assert any(".evt.run.RunLogged" in a for a in addresses)


async def test_prompts_are_listed_and_render(
    connect: Connect, gateway_url: str, athlete_id: str
) -> None:
    async with connect(gateway_url, athlete_id) as client:
        names = {p.name for p in await client.list_prompts()}
        assert names >= {"weekly_review", "race_plan", "shoe_check", "injury_check_in"}
        plan = await client.get_prompt(
            "race_plan", {"race_distance": "half", "race_date": "2027-04-04"}
        )
    text = plan.messages[0].content.text  # type: ignore[union-attr]
    assert "predict_race" in text and "2027-04-04" in text
