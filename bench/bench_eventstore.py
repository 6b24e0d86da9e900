"""Event store benchmark: append latency, concurrent append throughput, read-all throughput,
and the store calls of one runs `log_run` command (with the contracts registry).

    uv run python bench/bench_eventstore.py [DATABASE_URL]

Runs in a fresh Postgres schema (namespace) that is dropped afterwards.

The read rows also report the client's CPU time per event (this thread's, not Postgres's): on a
shared machine wall-clock throughput swings with other load (2x between runs seen), the CPU
per event much less, so it is the number to compare a read-path change by.

The command rows (store with the contracts registry, so personal fields are sealed) time what
`log_run` asks of the store: the dedup check, the read of the athlete stream (name and email
sealed) and the append of a run without name or notes, with the statements each one sends
(round trips: counted on the store's one connection, prepared statements already cached).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import uuid4

from maratron_contracts import runs
from maratron_contracts.envelope import Actor, EventMetadata, NewEvent
from maratron_contracts.registry import REGISTRY
from maratron_eventstore import EventStore

APPENDS = 2_000
WRITERS = 16
APPENDS_PER_WRITER = 500
READ_EVENTS = 100_000
READ_BATCH = 500  # events per append when generating the read-all data set
PAGE = 5_000
COMMAND_SAMPLES = 2_000

ACTOR = Actor(subject="ath-bench", roles=("athlete",), client_id="bench")


def _run_event(i: int) -> NewEvent:
    return NewEvent(
        event_type="RunLogged",
        schema_version=2,
        data={"run_id": f"r{i}", "distance_km": 10.2, "duration_s": 3120, "note": "easy run"},
    )


def _metadata() -> EventMetadata:
    command_id = uuid4()
    return EventMetadata(command_id=command_id, correlation_id=uuid4(), actor=ACTOR)


async def _single_writer_latency(store: EventStore, tag: str = "lat") -> tuple[float, float]:
    """p50 and p99 in ms of single-event appends (with a command id), one at a time."""
    samples: list[float] = []
    for i in range(APPENDS):
        meta = _metadata()
        started = time.perf_counter()
        await store.append(
            f"run:{tag}{i}", "ath-bench", [_run_event(i)], expected_version=0,
            metadata=meta, command_id=meta.command_id,
        )  # fmt: skip
        samples.append(time.perf_counter() - started)
    samples.sort()
    return statistics.median(samples) * 1000, samples[int(len(samples) * 0.99) - 1] * 1000


def _fdatasync_floor(samples: int = 200) -> float:
    """p50 in ms of an 8 KiB write + fdatasync on this machine's disk: the floor of any
    durable commit (a Postgres on another disk or machine has its own)."""
    timings: list[float] = []
    with tempfile.NamedTemporaryFile(dir=tempfile.gettempdir()) as probe:
        for _ in range(samples):
            os.write(probe.fileno(), b"\0" * 8192)
            started = time.perf_counter()
            os.fdatasync(probe.fileno())
            timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def _without_flush_wait(database_url: str) -> str:
    """The same DSN with synchronous_commit=off (asyncpg passes unknown DSN parameters on as
    server settings): the commit does not wait for the WAL flush."""
    return database_url + ("&" if "?" in database_url else "?") + "synchronous_commit=off"


async def _concurrent_throughput(store: EventStore) -> float:
    async def writer(w: int) -> None:
        for i in range(APPENDS_PER_WRITER):
            meta = _metadata()
            await store.append(
                f"shoes:w{w}", f"ath{w}", [_run_event(i)], expected_version=i,
                metadata=meta, command_id=meta.command_id,
            )  # fmt: skip

    started = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(WRITERS)))
    return WRITERS * APPENDS_PER_WRITER / (time.perf_counter() - started)


async def _generate(store: EventStore) -> float:
    """Write the read-all data set in batches; returns the batch append rate (events/s)."""
    started = time.perf_counter()
    for b in range(READ_EVENTS // READ_BATCH):
        await store.append(
            f"run:bulk{b}", "ath-bench", [_run_event(i) for i in range(READ_BATCH)],
            expected_version=0, metadata=_metadata(),
        )  # fmt: skip
    # Fresh statistics, as autovacuum would have gathered by now: without them the planner may
    # sort instead of walking the primary key.
    rate = READ_EVENTS / (time.perf_counter() - started)
    await store.pool.execute(f"ANALYZE {store.namespace}.events")
    return rate


async def _read_all_throughput(store: EventStore) -> tuple[int, float, float]:
    """Sequential pages: each read_all waits for the previous one to be decoded.
    Returns (events, events/s, client CPU us per event)."""
    head = await store.head()
    started, cpu = time.perf_counter(), time.thread_time()
    position, count = 0, 0
    while position < head:
        page = await store.read_all(position, limit=PAGE)
        count += len(page)
        position = page[-1].global_position
    cpu_us = (time.thread_time() - cpu) * 1e6 / count
    return count, count / (time.perf_counter() - started), cpu_us


async def _subscribe_throughput(store: EventStore) -> tuple[int, float, float]:
    """Catch-up through subscribe(): the next page is fetched while one is consumed.
    Returns (events, events/s, client CPU us per event)."""
    head = await store.head()
    started, cpu = time.perf_counter(), time.thread_time()
    count = 0
    subscription = store.subscribe(0, batch=PAGE)
    async for event in subscription:
        count += 1
        if event.global_position == head:
            break
    await subscription.aclose()
    cpu_us = (time.thread_time() - cpu) * 1e6 / count
    return count, count / (time.perf_counter() - started), cpu_us


def _logged_run(i: int) -> NewEvent:
    """A RunLogged as the runs service appends it: every field dumped, name and notes None."""
    run = runs.RunLogged(
        run_id=f"r{i}", date=dt.date(2026, 1, 1), distance_m=10_000, duration_s=3_000,
        shoe_id="s1", logged_at=dt.datetime.now(dt.UTC),
    )  # fmt: skip
    return NewEvent(event_type=run.event_type, data=run.model_dump(mode="json"))


def _registered(athlete_id: str) -> NewEvent:
    event = runs.AthleteRegistered(
        athlete_id=athlete_id, name="Ann Lee", email="ann@example.org", timezone="Europe/Berlin",
        unit="km", week_start="monday", registered_at=dt.datetime.now(dt.UTC),
    )  # fmt: skip
    return NewEvent(event_type=event.event_type, data=event.model_dump(mode="json"))


async def _command_path(database_url: str, namespace: str) -> list[dict[str, Any]]:
    """p50 and statements of the store calls of one `log_run` (see the module docstring)."""
    store = await EventStore.connect(
        database_url, namespace=namespace, registry=REGISTRY, min_size=1, max_size=1
    )
    sent: list[str] = []
    try:
        async with store._db.acquire() as conn:  # the store's own (private) pool: one connection
            conn.add_query_logger(lambda query: sent.append(query.query))
        athlete = "ath-cmd"
        for version in range(3):  # registered, then two profile changes: all sealed
            await store.append(f"athlete:{athlete}", athlete, [_registered(athlete)],
                               expected_version=version, metadata=_metadata())  # fmt: skip
        counter = iter(range(10**9))

        async def dedup() -> None:
            await store.command_result(uuid4())

        async def load() -> None:
            (first, *_) = await store.read_stream(f"athlete:{athlete}")
            assert first.data["name"] == "Ann Lee"

        async def append() -> None:
            meta = _metadata()
            i = next(counter)
            await store.append(
                f"run:cmd{i}", athlete, [_logged_run(i)], expected_version=0, metadata=meta,
                command_id=meta.command_id, result_data={"run_id": f"r{i}"},
            )  # fmt: skip

        rows = []
        for name, call in (("command_result", dedup), ("read_stream athlete (sealed fields)",
                           load), ("append run, no personal data", append)):  # fmt: skip
            for _ in range(20):  # warm up
                await call()
            await asyncio.sleep(0)
            sent.clear()
            p50 = await _p50_ms(call, COMMAND_SAMPLES)
            await asyncio.sleep(0.01)  # query loggers are called soon after the query
            rows += [
                {"benchmark": f"cmd: {name} (p50)", "value": round(p50, 3), "unit": "ms",
                 "n": COMMAND_SAMPLES},
                {"benchmark": f"cmd: {name}, statements per call",
                 "value": round(len(sent) / COMMAND_SAMPLES, 2), "unit": "", "n": COMMAND_SAMPLES},
            ]  # fmt: skip
        return rows
    finally:
        await store.close()


async def _p50_ms(call: Callable[[], Awaitable[None]], n: int) -> float:
    samples: list[float] = []
    for _ in range(n):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


async def main(database_url: str, namespace: str | None = None) -> list[dict[str, Any]]:
    """Benchmark rows; everything lives in `namespace` (default: a fresh one), dropped after."""
    namespace = namespace or f"bench{secrets.token_hex(4)}"
    store = await EventStore.connect(database_url, namespace=namespace, max_size=WRITERS)
    try:
        await store.migrate()
        for i in range(200):  # warm up connections and prepared statements
            await store.append(f"run:warm{i}", "w", [_run_event(i)], expected_version=0,
                               metadata=_metadata())  # fmt: skip
        fsync_p50 = await asyncio.to_thread(_fdatasync_floor)
        p50, p99 = await _single_writer_latency(store)
        nosync = await EventStore.connect(_without_flush_wait(database_url), namespace=namespace)
        try:
            nosync_p50, _ = await _single_writer_latency(nosync, "nosync")
        finally:
            await nosync.close()
        throughput = await _concurrent_throughput(store)
        batch_rate = await _generate(store)
        read_count, read_rate, read_cpu = await _read_all_throughput(store)
        sub_count, sub_rate, sub_cpu = await _subscribe_throughput(store)
        command_rows = await _command_path(database_url, namespace)
    finally:
        await store.pool.execute(f"DROP SCHEMA IF EXISTS {namespace} CASCADE")
        await store.close()
    return [
        {"benchmark": "append 1 event, 1 writer (p50)", "value": round(p50, 3), "unit": "ms",
         "n": APPENDS},
        {"benchmark": "append 1 event, 1 writer (p99)", "value": round(p99, 3), "unit": "ms",
         "n": APPENDS},
        {"benchmark": "diagnostic: fdatasync p50 (temp dir disk)", "value": round(fsync_p50, 3),
         "unit": "ms", "n": 200},
        {"benchmark": "append p50, diagnostic: synchronous_commit=off", "value":
         round(nosync_p50, 3), "unit": "ms", "n": APPENDS},
        {"benchmark": f"append throughput, {WRITERS} writers", "value": round(throughput),
         "unit": "events/s", "n": WRITERS * APPENDS_PER_WRITER},
        {"benchmark": f"append throughput, {READ_BATCH}-event batches", "value": round(batch_rate),
         "unit": "events/s", "n": READ_EVENTS},
        {"benchmark": f"read_all throughput ({PAGE}-event pages)", "value": round(read_rate),
         "unit": "events/s", "n": read_count},
        {"benchmark": "subscribe catch-up throughput", "value": round(sub_rate),
         "unit": "events/s", "n": sub_count},
        {"benchmark": "read_all client CPU per event (diagnostic)", "value": round(read_cpu, 2),
         "unit": "us", "n": read_count},
        {"benchmark": "subscribe client CPU per event (diagnostic)", "value": round(sub_cpu, 2),
         "unit": "us", "n": sub_count},
        *command_rows,
    ]  # fmt: skip


def _print_table(rows: list[dict[str, Any]]) -> None:
    width = max(len(r["benchmark"]) for r in rows)
    print(f"{'benchmark':<{width}}  {'value':>12}  unit       n")
    for r in rows:
        print(f"{r['benchmark']:<{width}}  {r['value']:>12}  {r['unit']:<9}  {r['n']}")


if __name__ == "__main__":
    url = (
        sys.argv[1]
        if len(sys.argv) > 1
        else os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    )
    _print_table(asyncio.run(main(url)))
    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
