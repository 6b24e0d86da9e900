"""Insights through a real gateway over HTTP: runs logged with the runs tools reach the insights
service (relay -> JetStream -> consumer) and come back through the insights tools."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError

from tests.e2e.conftest import Connect

pytestmark = pytest.mark.integration

TZ = "America/New_York"


async def call(client: Client[Any], tool: str, **args: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    assert result.structured_content is not None, f"{tool} returns structured content"
    assert result.content and result.content[0].type == "text" and result.content[0].text
    return result.structured_content


async def error_of(client: Client[Any], tool: str, **args: Any) -> str:
    with pytest.raises(ToolError) as info:
        await client.call_tool(tool, args)
    return str(info.value)


async def latest(client: Client[Any]) -> dict[str, Any]:
    contents = await client.read_resource("insights://me/latest")
    return json.loads(contents[0].text)  # type: ignore[union-attr,no-any-return]


async def eventually(check: Callable[[], Awaitable[bool]], what: str, within_s: float = 60) -> None:
    deadline = time.monotonic() + within_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def test_insights_over_http(
    connect: Connect, gateway_url: str, athlete_id: str, era: str
) -> None:
    today = dt.datetime.now(ZoneInfo(TZ)).date()
    async with connect(gateway_url, athlete_id, era) as c:
        assert "register_athlete" in await error_of(c, "training_load")

        await call(c, "register_athlete", name="Ida", email="ida@example.org", timezone=TZ,
                   sex="male", resting_hr=50, max_hr=190)  # fmt: skip
        await call(c, "add_shoe", name="Old pair", max_distance=800, initial_distance=700,
                   default=True)  # fmt: skip
        # 5 weeks: 4 easy runs a week (10 km in 55:00, one of them with heart rate) and, a week
        # ago, a 5 km race in 20:00.
        logged: list[str] = []
        for week in range(5):
            for day in (1, 3, 5, 6):
                date = today - dt.timedelta(days=7 * week + day)
                extra: dict[str, Any] = {"avg_hr": 150} if day == 3 else {}
                run = await call(c, "log_run", date=date.isoformat(), distance=10,
                                 duration="55:00", start_time="06:30", **extra)  # fmt: skip
                logged.append(run["run_id"])
        race = await call(c, "log_run", date=(today - dt.timedelta(days=7)).isoformat(),
                          distance=5, duration="20:00", workout_type="race")  # fmt: skip
        logged.append(race["run_id"])
        await call(c, "remember", text="Run a sub-3:15 marathon in April", kind="goal")

        async def all_runs_seen() -> bool:
            try:
                return int((await latest(c))["runs"]) == len(logged)
            except Exception:
                return False

        await eventually(all_runs_seen, "insights to see every run")

        tl = await call(c, "training_load")
        assert tl["at"] == today.isoformat()  # the athlete's local date, not UTC's
        assert tl["load_methods"] == {"trimp_banister": 5, "duration_minutes": 16}
        assert sum(w["runs"] for w in tl["weekly_trend"]) == len(logged)
        assert tl["acwr_rolling"]["formula"].startswith("ACWR rolling")
        assert tl["ctl"]["status"] == "not_enough_data"  # 5 weeks < 42 days of history
        assert "needs 42 days" in tl["ctl"]["missing"]

        found = await call(c, "analyze_patterns", window_days=60)
        kinds = {i["key"]: i for i in found["insights"]}
        assert kinds["shoe_wear"]["category"] == "concern"  # 700 + 205 km of an 800 km shoe
        assert kinds["time_of_day"]["text"].startswith("Prefers morning")

        pred = await call(c, "predict_race", distance="10k")
        assert pred["efforts"][0]["run_id"] == race["run_id"]
        ten = pred["predictions"][0]
        assert ten["riegel"]["time_s"] == pytest.approx(1200 * 2**1.06, rel=1e-6)  # 41:42
        miles = await call(c, "predict_race", distance="10", unit="mi")
        assert miles["predictions"][0]["distance_m"] == pytest.approx(16093.44)
        assert "5k, 10k, half, marathon" in await error_of(c, "predict_race", distance="far")

        mood = await call(c, "get_motivational_context")
        assert mood["tone"] == "cautious"  # the shoe concern

        snap = await call(c, "get_coaching_snapshot")
        assert snap["profile"]["athlete_id"] == athlete_id
        assert "email" not in snap["profile"]
        assert len(snap["last_runs"]) == 5
        assert [a["name"] for a in snap["shoe_alerts"]] == ["Old pair"]
        assert [g["text"] for g in snap["goals"]] == ["Run a sub-3:15 marathon in April"]
        assert "shoe_wear" in {x["key"] for x in snap["open_concerns"]}
        assert snap["load"]["acwr_rolling"]["formula"].startswith("ACWR")

        # someone else's insights: forbidden, whatever the athlete id
        assert "your own data" in await error_of(c, "training_load", athlete_id="someone-else")

        # deleting a run updates the insights
        await call(c, "delete_run", run_id=race["run_id"])

        async def race_gone() -> bool:
            return int((await latest(c))["runs"]) == len(logged) - 1

        await eventually(race_gone, "the deletion to reach insights")
        pred = await call(c, "predict_race", distance="10k")
        assert all(e["run_id"] != race["run_id"] for e in pred["efforts"])
