"""Runs, shoes and profile through a real gateway over HTTP, in both MCP eras."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError

from tests.e2e.conftest import Connect

pytestmark = pytest.mark.integration

MILE_M = 1609.344


async def call(client: Client[Any], tool: str, **args: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    assert result.structured_content is not None, f"{tool} returns structured content"
    assert result.content and result.content[0].type == "text" and result.content[0].text
    return result.structured_content


async def error_of(client: Client[Any], tool: str, **args: Any) -> str:
    with pytest.raises(ToolError) as info:
        await client.call_tool(tool, args)
    return str(info.value)


async def read_json(client: Client[Any], uri: str) -> Any:
    contents = await client.read_resource(uri)
    return json.loads(contents[0].text)  # type: ignore[union-attr]


async def test_athlete_journey(
    connect: Connect, gateway_url: str, athlete_id: str, era: str
) -> None:
    async with connect(gateway_url, athlete_id, era) as c:
        assert "register_athlete" in await error_of(c, "get_profile")
        assert "register_athlete" in await error_of(c, "list_runs")

        reg = await call(c, "register_athlete", name="Ada", email="ada@example.org",
                         timezone="Europe/Paris")  # fmt: skip
        assert reg["athlete_id"] == athlete_id  # the token's subject, never a parameter
        assert reg["profile"]["unit"] == "km"

        shoe = await call(c, "add_shoe", name="Pegasus", brand="Nike", default=True)
        shoe_id = shoe["shoe_id"]

        # five runs in km and mi, in a shuffled date order
        r1 = await call(c, "log_run", date="2026-11-02", distance=10, duration="50:00")
        r2 = await call(c, "log_run", date="2026-11-16", distance=5, duration="40:00", unit="mi",
                        start_time="07:30", name="Sunday miles")  # fmt: skip
        r3 = await call(c, "log_run", date="2026-11-10", distance=12.5, duration=3900,
                        workout_type="long", perceived_effort=6)  # fmt: skip
        r4 = await call(c, "log_run", date="2026-11-17", distance=8, duration="0:42:00")
        r5 = await call(c, "log_run", date="2026-10-20", distance=21.1, duration="1:45:30",
                        workout_type="race")  # fmt: skip
        assert r1["run"]["distance_m"] == 10_000
        assert r1["run"]["pace_per_km"] == "5:00"
        assert r1["run"]["shoe_id"] == shoe_id  # no shoe_id given: the default shoe
        assert r2["run"]["distance_m"] == round(5 * MILE_M)
        assert r2["run"]["pace_per_mi"] == "8:00"

        # newest first, paged with the cursor
        page1 = await call(c, "list_runs", limit=2)
        page2 = await call(c, "list_runs", limit=2, cursor=page1["next_cursor"])
        page3 = await call(c, "list_runs", limit=2, cursor=page2["next_cursor"])
        ids = [r["run_id"] for p in (page1, page2, page3) for r in p["runs"]]
        order = [r4, r2, r3, r1, r5]
        assert ids == [r["run_id"] for r in order]
        assert page3["next_cursor"] is None
        window = await call(c, "list_runs", since="2026-11-03", until="2026-11-16")
        assert [r["run_id"] for r in window["runs"]] == [r2["run_id"], r3["run_id"]]

        # summaries (weeks start on Monday; 2026-11-16 is a Monday)
        week = await call(c, "run_summary", period="week", at="2026-11-18")
        assert (week["count"], week["distance_m"]) == (2, round(5 * MILE_M) + 8000)
        month = await call(c, "run_summary", period="month", at="2026-11-18")
        assert month["count"] == 4
        assert month["distance_m"] == 10_000 + round(5 * MILE_M) + 12_500 + 8000
        assert month["longest_run_id"] == r3["run_id"]
        last30 = await call(c, "run_summary", period="30d", at="2026-11-18")
        assert last30["count"] == 5 and last30["days"] == 30

        total = 10_000 + round(5 * MILE_M) + 12_500 + 8000 + 21_100
        [pegasus] = (await call(c, "list_shoes"))["shoes"]
        assert (pegasus["distance_m"], pegasus["run_count"]) == (total, 5)

        # update and delete: summaries and the shoe follow
        updated = await call(c, "update_run", run_id=r4["run_id"], distance=9, notes="windy")
        assert (updated["distance_m"], updated["notes"]) == (9000, "windy")
        assert (await call(c, "get_run", run_id=r4["run_id"]))["distance_m"] == 9000
        receipt = await call(c, "delete_run", run_id=r2["run_id"])
        assert receipt["deleted"] is True
        assert "not found" in await error_of(c, "get_run", run_id=r2["run_id"])
        week = await call(c, "run_summary", period="week", at="2026-11-18")
        assert (week["count"], week["distance_m"]) == (1, 9000)
        [pegasus] = (await call(c, "list_shoes"))["shoes"]
        assert pegasus["distance_m"] == total - round(5 * MILE_M) + 1000
        assert pegasus["run_count"] == 4

        # retire the shoe: gone from the default list, kept with its history
        retired = await call(c, "retire_shoe", shoe_id=shoe_id)
        assert retired["retired"] is True
        assert (await call(c, "list_shoes"))["shoes"] == []
        [kept] = (await call(c, "list_shoes", include_retired=True))["shoes"]
        assert (kept["shoe_id"], kept["distance_m"]) == (shoe_id, pegasus["distance_m"])

        # resources: the same read models as JSON
        assert (await read_json(c, "athlete://me/profile"))["athlete_id"] == athlete_id
        assert len((await read_json(c, "runs://me/recent"))["runs"]) == 4
        assert (await read_json(c, "runs://me/summary/week"))["period"] == "week"
        assert (await read_json(c, "shoes://me"))["shoes"] == []

        profile = await call(c, "update_profile", unit="mi", week_start="sunday")
        assert (profile["unit"], profile["week_start"]) == ("mi", "sunday")


async def test_bad_input_names_the_field_and_changes_nothing(
    connect: Connect, gateway_url: str, athlete_id: str
) -> None:
    async with connect(gateway_url, athlete_id) as c:
        await call(c, "register_athlete", name="Bo", email="bo@example.org")
        cases: list[tuple[str, dict[str, Any], str]] = [
            ("log_run", {"date": "2026-11-02", "distance": 10, "duration": "5o:00"}, "duration"),
            ("log_run", {"date": "2026-13-02", "distance": 10, "duration": "50:00"}, "date"),
            ("log_run", {"date": "2026-11-02", "distance": -1, "duration": "50:00"}, "distance"),
            (
                "log_run",
                {"date": "2026-11-02", "distance": 10, "duration": "50:00", "unit": "furlong"},
                "unit",
            ),
            (
                "log_run",
                {
                    "date": "2026-11-02",
                    "distance": 10,
                    "duration": "50:00",
                    "athlete_id": "someone-else",
                },
                "athlete_id",
            ),
            ("list_runs", {"limit": 500}, "limit"),
            ("run_summary", {"period": "fortnight"}, "period"),
            (
                "register_athlete",
                {"name": "X", "email": "x@example.org", "timezone": "Mars/Olympus"},
                "time zone",
            ),
            ("delete_athlete", {"confirm": False}, "confirm"),
            ("update_run", {"run_id": "nope", "distance": 5}, "not found"),
        ]
        for tool, args, expected in cases:
            message = await error_of(c, tool, **args)
            assert expected in message, f"{tool}{args}: {message!r} should mention {expected!r}"
            assert "Traceback" not in message
        assert (await call(c, "list_runs"))["runs"] == []
