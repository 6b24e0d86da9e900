"""Replay and verify throughput over a large log.

Events are generated directly into the store for speed, through the same append path the
services use (`EventStore.append`, 16 concurrent writers): per athlete a registration, a shoe,
and runs, each run logged then edited a few times (five events per append). Then:

* `maratron replay` machinery (`rebuild`): every projection of every service, folded in memory
  into a staging key space, atomic swap, live catch-up: build events/s, and the seconds of the
  whole rebuild (build + swap + catch-up);
* `maratron verify` machinery: hash chains of every stream, then a scratch replay compared with
  the live read models: seconds (build_s: the scratch build's part);
* peak RSS of the process (`resource.getrusage`; the log is generated lazily, so the peak is
  the replay's) and the load average before -> after each phase (the machine is shared: numbers
  under load are upper bounds).

Size: MARATRON_BENCH_REPLAY_EVENTS (default 20,000; the issue asks for 1,000,000). 1M works
but takes 12-19 minutes on the shared 2-core machine: generating the log through the append
path (5-9 min at 1,900-3,300 events/s), the replay (3-5 min) and verify (4-5.5 min). Run it on
its own with `--timeout 3600` (run_all's default is 900 s per benchmark), not in `make bench`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import resource
import time
from collections.abc import Iterator
from typing import Any

from maratron_cli.operator import all_projections
from maratron_contracts.envelope import Actor, EventMetadata, NewEvent
from maratron_contracts.messages import Event
from maratron_contracts.registry import load_all
from maratron_contracts.runs import AthleteRegistered, RunLogged, RunUpdated, ShoeAdded
from maratron_eventstore import EventStore
from maratron_projections import Keys
from maratron_projections.compare import compare, drop
from maratron_projections.rebuild import build, rebuild
from redis.asyncio import Redis

EDITS_PER_RUN = 4
RUNS_PER_ATHLETE = 40
WRITERS = 16
DEFAULT_EVENTS = 20_000


def _new(event: Event) -> NewEvent:
    return NewEvent(
        event_type=event.event_type,
        schema_version=event.schema_version,
        data=event.model_dump(mode="json"),
    )


def athlete_batches(
    athlete: str, runs: int, rng: random.Random
) -> list[tuple[str, list[NewEvent]]]:
    now = dt.datetime.now(dt.UTC)
    shoe = f"shoe-{athlete}"
    batches: list[tuple[str, list[NewEvent]]] = [
        (f"athlete:{athlete}", [_new(AthleteRegistered(
            athlete_id=athlete, name=f"Runner {athlete}", email=f"{athlete}@example.com",
            timezone="Europe/Paris", unit="km", week_start="monday", max_hr=190,
            resting_hr=50, registered_at=now))]),
        (f"shoes:{athlete}", [_new(ShoeAdded(
            shoe_id=shoe, name="Trainer", max_distance_m=800_000, initial_distance_m=0,
            added_at=now))]),
    ]  # fmt: skip
    today = dt.date.today()
    for i in range(runs):
        run_id = f"{athlete}-r{i}"
        fields: dict[str, Any] = {
            "run_id": run_id, "date": today - dt.timedelta(days=runs - i),
            "distance_m": rng.randint(4_000, 25_000), "duration_s": rng.randint(1_500, 9_000),
            "avg_hr": rng.randint(130, 170), "shoe_id": shoe, "workout_type": "easy",
        }  # fmt: skip
        events = [_new(RunLogged(**fields, logged_at=now))]
        for _ in range(EDITS_PER_RUN):
            fields["duration_s"] = int(fields["distance_m"] * rng.uniform(0.25, 0.4))
            events.append(_new(RunUpdated(**fields, changed=["duration_s"], updated_at=now)))
        batches.append((f"run:{run_id}", events))
    return batches


def _batches(total: int) -> Iterator[tuple[str, str, list[NewEvent]]]:
    """About `total` events as (stream, athlete, events) appends, made lazily (a 1M-event
    log generated up front would dominate the process's peak memory)."""
    per_athlete = 2 + RUNS_PER_ATHLETE * (1 + EDITS_PER_RUN)
    rng = random.Random(7)
    for a in range(max(1, total // per_athlete)):
        athlete = f"bench-{a}"
        for stream, events in athlete_batches(athlete, RUNS_PER_ATHLETE, rng):
            yield stream, athlete, events


async def generate(store: EventStore, total: int) -> float:
    """Append about `total` events; returns events/s of the generation."""
    meta = EventMetadata(actor=Actor.system("bench"))
    # a stream's later batches depend on nothing else: any order of whole batches is fine
    batches = _batches(total)
    appended = 0

    async def writer() -> None:
        nonlocal appended
        for stream, athlete, events in batches:
            await store.append(stream, athlete, events, expected_version=0, metadata=meta)
            appended += len(events)

    began = time.monotonic()
    await asyncio.gather(*(writer() for _ in range(WRITERS)))
    return appended / (time.monotonic() - began)


def _rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


async def main(database_url: str, redis_url: str, namespace: str) -> list[dict[str, Any]]:
    total = int(os.environ.get("MARATRON_BENCH_REPLAY_EVENTS", str(DEFAULT_EVENTS)))
    store = await EventStore.connect(
        database_url, namespace=namespace, registry=load_all(), max_size=WRITERS + 2
    )
    await store.migrate()
    redis = Redis.from_url(redis_url)
    rows: list[dict[str, Any]] = []

    def row(benchmark: str, value: Any, unit: str, n: int, **extra: Any) -> None:
        rows.append({"benchmark": benchmark, "value": value, "unit": unit, "n": n, **extra})

    try:
        gen_rate = await generate(store, total)
        head = await store.head()
        row("generate (append path, 16 writers)", round(gen_rate), "events/s", head)
        rss_before, load_before = _rss_mb(), _load()
        began = time.monotonic()
        result = await rebuild(store, redis, all_projections(), namespace)
        replay_s = time.monotonic() - began
        load = f"{load_before} -> {_load()}"
        row("replay: build (all projections)", round(result.events_per_second), "events/s",
            head, load=load)  # fmt: skip
        row("replay: build + swap + catch-up", round(replay_s, 2), "s", head,
            load=load)  # fmt: skip
        row("replay: peak RSS (before replay)", f"{_rss_mb()} ({rss_before})", "MB", head)
        began = time.monotonic()
        violations = await store.verify_chains()
        chains = time.monotonic() - began
        row("verify: hash chains", round(chains, 2), "s", head)
        load_before = _load()
        began = time.monotonic()
        scratch = Keys(namespace, "bench-verify")
        await build(store, redis, all_projections(), scratch)
        built = time.monotonic() - began
        drift = await compare(redis, scratch, Keys(namespace))
        await drop(redis, scratch)
        load = f"{load_before} -> {_load()}"
        row("verify: replay + compare", round(time.monotonic() - began, 2), "s", head,
            load=load, build_s=round(built, 2))  # fmt: skip
        row("peak RSS (whole run)", _rss_mb(), "MB", head)
        assert not violations and not drift, (violations[:3], drift[:3])
    finally:
        await redis.aclose()
        await store.close()
    return rows


if __name__ == "__main__":
    import sys

    url_db = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    url_redis = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    for row in asyncio.run(
        main(url_db, url_redis, sys.argv[1] if len(sys.argv) > 1 else "benchreplay")
    ):
        print(row)
