"""Operator commands against a running runs service on the real stack: seed, replay (flush and
rebuild, interrupted and resumed, point in time), verify (drift, tampering), audit, keys."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from maratron_cli.operator import all_projections
from maratron_contracts.envelope import Actor
from maratron_contracts.runs import DeleteRun, LogRun
from maratron_eventstore import EventStore
from maratron_projections import Keys
from maratron_projections.rebuild import rebuild, staging_marker
from maratron_runs.queries import RunsQueries
from maratron_runs.readmodel import RunsKeys
from maratron_service.app import ServiceApp
from maratron_service.testing import client_of
from maratron_testing.plugin import StackUrls
from redis.asyncio import Redis

ATHLETE = "seed-1"
Cli = Callable[..., Awaitable[tuple[int, str]]]  # the `cli` fixture (conftest.py)


async def _view(redis: Redis, keys: Keys) -> dict[str, Any]:
    """What the runs tools show for the athlete: profile, every run, summaries, shoes."""
    q = RunsQueries(redis, keys)
    page = await q.list_runs(ATHLETE, limit=100)
    return {
        "profile": (await q.get_profile(ATHLETE)).model_dump(mode="json"),
        "runs": [r.model_dump(mode="json") for r in page.runs],
        "month": (await q.summary(ATHLETE, "30d")).model_dump(mode="json"),
        "shoes": [s.model_dump(mode="json") for s in await q.list_shoes(ATHLETE, True)],
    }


async def _flush(redis: Redis, namespace: str) -> None:
    async for key in redis.scan_iter(match=f"{namespace}:rm:*", count=1000):
        await redis.delete(key)


async def test_seed_flush_replay_verify_audit(
    runs_app: ServiceApp, cli: Cli, maratron_stack: StackUrls
) -> None:
    ns = runs_app.settings.namespace
    code, out = await cli("seed", "--athletes", "2", "--runs-per-athlete", "12")
    assert code == 0, out
    assert "seeded 2 athletes and 24 runs" in out
    before = await _view(runs_app.redis, runs_app.keys)
    assert len(before["runs"]) == 12

    await _flush(runs_app.redis, ns)
    assert await RunsQueries(runs_app.redis, runs_app.keys).find_profile(ATHLETE) is None
    code, out = await cli("replay")
    assert code == 0 and "switched live read models" in out, out
    assert await _view(runs_app.redis, runs_app.keys) == before

    code, out = await cli("verify")
    assert code == 0 and "verify: OK" in out, out

    # drift: a read model changed behind the projections' back
    days = RunsKeys(runs_app.keys, ATHLETE).days
    assert await runs_app.redis.hlen(days) > 0
    await runs_app.redis.hset(days, "1999-01-01", "tampered")
    code, out = await cli("verify")
    assert code == 1 and "DRIFT" in out, out
    await cli("replay")

    # tampering with the log itself
    conn = await asyncpg.connect(maratron_stack.database_url)
    try:
        position, stream = await conn.fetchrow(
            f"UPDATE {ns}.events SET data = jsonb_set(data, '{{distance_m}}', '1')"
            f" WHERE global_position = (SELECT min(global_position) FROM {ns}.events"
            "   WHERE event_type = 'RunLogged') RETURNING global_position, stream_id"
        )
    finally:
        await conn.close()
    code, out = await cli("verify")
    assert code == 1, out
    assert f"CHAIN  {stream}" in out and f"position {position}" in out, out

    code, out = await cli("audit", "athlete", ATHLETE, "--format", "json")
    history = json.loads(out)
    assert code == 0 and history[0]["type"] == "AthleteRegistered"
    assert {h["client"] for h in history} == {"maratron-seed"}
    assert sum(h["type"] == "RunLogged" for h in history) == 12
    code, out = await cli("audit", "stream", stream, "--format", "csv")
    assert out.splitlines()[0].startswith("time,position,stream,version,type,actor")
    code, out = await cli("audit", "athlete", ATHLETE, "--type", "AddShoe")
    assert "no events" in out


async def test_replay_interrupted_then_resumed(runs_app: ServiceApp, cli: Cli) -> None:
    ns = runs_app.settings.namespace
    assert (await cli("seed", "--athletes", "3", "--runs-per-athlete", "10"))[0] == 0
    before = await _view(runs_app.redis, runs_app.keys)
    await _flush(runs_app.redis, ns)

    class Interrupted(Exception):
        pass

    def stop_early(done: int, total: int, _: float) -> None:
        if done < total:
            raise Interrupted

    store: EventStore = runs_app.store
    with pytest.raises(Interrupted):
        await rebuild(store, runs_app.redis, all_projections(), ns, progress=stop_early, chunk=10)
    assert await runs_app.redis.get(staging_marker(ns)) is not None
    result = await rebuild(store, runs_app.redis, all_projections(), ns)
    assert result.resumed and result.swapped
    assert await _view(runs_app.redis, runs_app.keys) == before
    assert await runs_app.redis.get(staging_marker(ns)) is None


async def test_point_in_time_view(runs_app: ServiceApp, cli: Cli) -> None:
    assert (await cli("seed", "--athletes", "1", "--runs-per-athlete", "3"))[0] == 0
    first = (await RunsQueries(runs_app.redis, runs_app.keys).list_runs(ATHLETE)).runs[-1]
    moment = dt.datetime.now(dt.UTC)
    client = client_of(runs_app)
    actor = Actor(subject=ATHLETE, scopes=("runs:write",))
    await client.send("runs", DeleteRun(run_id=first.run_id), ATHLETE, actor)
    later = await client.send(
        "runs", LogRun(date=dt.date.today(), distance=5, duration="25:00"), ATHLETE, actor
    )
    code, out = await cli("audit", "athlete", ATHLETE, "--as-of", moment.isoformat())
    view = json.loads(out)
    ids = {r["run_id"] for r in view["runs"]}
    assert code == 0 and first.run_id in ids
    assert later.data["run_id"] not in ids
    assert len(ids) == 3


async def test_keys_create_list_revoke(runs_app: ServiceApp, cli: Cli) -> None:
    create = ["--subject", "athlete-k", "--scopes", "runs:read", "--expires", "30d"]
    code, out = await cli("keys", "create", *create, "--name", "watch")
    assert code == 0
    plaintext, note = out.splitlines()[:2]
    assert plaintext.startswith("mrt_") and "shown once" in note
    code, out = await cli("keys", "list", "--format", "json")
    (listed,) = json.loads(out)
    assert listed["subject"] == "athlete-k" and plaintext not in out and not listed["revoked"]
    assert (await cli("keys", "revoke", listed["key_id"]))[0] == 0
    code, out = await cli("keys", "list", "--format", "json")
    assert json.loads(out)[0]["revoked"] is True
    assert await cli("keys", "revoke", "000000000000") == (1, "")
