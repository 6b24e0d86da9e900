"""Erasure (crypto-shredding): after delete_athlete, the athlete's name, email and run notes are
unreadable everywhere — read models, a replay, audit — while counts, distances and the hash
chains stay valid."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable

from maratron_contracts.envelope import Actor
from maratron_contracts.runs import DeleteAthlete, LogRun, RegisterAthlete
from maratron_runs.queries import RunsQueries
from maratron_service.app import ServiceApp
from maratron_service.testing import client_of

Cli = Callable[..., Awaitable[tuple[int, str]]]  # the `cli` fixture (conftest.py)
ATHLETE = "erase-me"
SECRETS = ("Erin Private", "erin@example.com", "knee hurts after mile 3")


async def test_erased_personal_data_is_unreadable_everywhere(
    runs_app: ServiceApp, cli: Cli
) -> None:
    client = client_of(runs_app)
    actor = Actor(subject=ATHLETE, scopes=("runs:write",))
    await client.send(
        "runs", RegisterAthlete(display_name=SECRETS[0], email=SECRETS[1]), ATHLETE, actor
    )
    day = dt.date.today() - dt.timedelta(days=1)
    for km in (5.0, 8.0):
        run = LogRun(date=day, distance=km, duration=int(km * 330), notes=SECRETS[2])
        await client.send("runs", run, ATHLETE, actor)
    queries = RunsQueries(runs_app.redis, runs_app.keys)
    before = await queries.summary(ATHLETE, "30d")
    distances = sorted(r.distance_m for r in (await queries.list_runs(ATHLETE)).runs)
    assert before.count == 2

    await client.send("runs", DeleteAthlete(confirm=True), ATHLETE, actor)

    async def everything_shown() -> str:
        page = await queries.list_runs(ATHLETE, limit=100)
        assert sorted(r.distance_m for r in page.runs) == distances, "distances are kept"
        assert await queries.counts(ATHLETE) == (2, 0)
        _, audit = await cli("audit", "athlete", ATHLETE, "--format", "json")
        return page.model_dump_json() + audit

    shown = await everything_shown()
    assert not any(s in shown for s in SECRETS), shown
    assert "[erased]" in shown

    assert (await cli("replay"))[0] == 0
    shown = await everything_shown()
    assert not any(s in shown for s in SECRETS)

    code, out = await cli("verify")
    assert code == 0, out
    history = json.loads((await cli("audit", "athlete", ATHLETE, "--format", "json"))[1])
    assert [h["type"] for h in history][:3] == ["AthleteRegistered", "RunLogged", "RunLogged"]
