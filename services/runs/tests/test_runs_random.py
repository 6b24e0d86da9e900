"""Model-based check on the real stack: a random mix of log/update/delete commands, then every
summary and shoe distance the read models give equals what a plain Python model computes."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

import pytest
from maratron_contracts.runs import AddShoe, DeleteRun, LogRun, UpdateRun
from maratron_contracts.units import parse_period
from maratron_runs.testing import RunsWorld

pytestmark = pytest.mark.integration

TODAY = dt.datetime.now(dt.UTC).date()
OPS = 90


@dataclass
class ModelRun:
    date: dt.date
    metres: int
    seconds: int
    shoe: str | None


@pytest.mark.parametrize("seed", [7, 2026])
async def test_random_history_matches_a_plain_model(runs_world: RunsWorld, seed: int) -> None:
    w = runs_world
    rng = random.Random(seed)
    athlete = await w.new_athlete(week_start=rng.choice(["monday", "sunday"]))
    shoes = []
    for name in ("A", "B", "C"):
        out = await w.send(AddShoe.model_validate({"name": name}), athlete)
        shoes.append(out.data["shoe_id"])
    model: dict[str, ModelRun] = {}

    def random_fields() -> tuple[dt.date, int, int]:
        day = TODAY - dt.timedelta(days=rng.randrange(0, 400))
        metres = rng.randrange(1000, 30_000)
        return day, metres, metres * rng.randrange(200, 600) // 1000  # 3:20-10:00 /km

    for _ in range(OPS):
        op = rng.random()
        if op < 0.55 or not model:
            day, metres, seconds = random_fields()
            shoe = rng.choice([*shoes, None])
            cmd = LogRun.model_validate(
                {"date": day.isoformat(), "distance": metres / 1000, "duration": seconds,
                 "shoe_id": shoe}
            )  # fmt: skip
            run_id = (await w.send(cmd, athlete)).data["run_id"]
            model[run_id] = ModelRun(day, metres, seconds, shoe)
        elif op < 0.8:
            run_id = rng.choice(sorted(model))
            day, metres, seconds = random_fields()
            new_shoe = rng.choice([*shoes, None])
            update: dict[str, object] = {
                "run_id": run_id,
                "date": day.isoformat(),
                "distance": metres / 1000,
                "duration": seconds,
            }
            if new_shoe is None:
                update["clear"] = ["shoe_id"]
            else:
                update["shoe_id"] = new_shoe
            await w.send(UpdateRun.model_validate(update), athlete)
            model[run_id] = ModelRun(day, metres, seconds, new_shoe)
        else:
            run_id = rng.choice(sorted(model))
            await w.send(DeleteRun(run_id=run_id), athlete)
            del model[run_id]

    listed = {s.shoe_id: s for s in await w.queries.list_shoes(athlete)}
    for shoe in shoes:
        runs = [r for r in model.values() if r.shoe == shoe]
        assert listed[shoe].run_distance_m == sum(r.metres for r in runs)
        assert listed[shoe].run_count == len(runs)

    profile = await w.queries.get_profile(athlete)
    for period in ("week", "month", "year", "1d", "30d", "365d", "3650d"):
        for at in (TODAY, TODAY - dt.timedelta(days=rng.randrange(0, 400))):
            start, end = parse_period(period).bounds(at, profile.week_start)
            inside = [r for r in model.values() if start <= r.date <= end]
            got = await w.queries.summary(athlete, period, at)
            assert (got.start, got.end, got.count) == (start, end, len(inside)), (period, at)
            assert got.distance_m == sum(r.metres for r in inside)
            assert got.moving_time_s == sum(r.seconds for r in inside)
            assert got.longest_run_m == max((r.metres for r in inside), default=0)

    page = await w.queries.list_runs(athlete, limit=100)
    assert {r.run_id for r in page.runs} == set(model)
    dates = [r.date for r in page.runs]
    assert dates == sorted(dates, reverse=True)
