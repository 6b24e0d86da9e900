"""Projector: idempotent, order-safe projection into Redis (real Postgres + Redis)."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from maratron_contracts.envelope import EventMetadata, NewEvent, RecordedEvent
from maratron_eventstore import EventStore
from maratron_projections import Keys, Projection, Projector
from maratron_projections.tasks import cancel_and_wait
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from .conftest import World


class CountProjection:
    """Write-only: a counter and the log of applied versions per stream."""

    name = "test.count"
    event_types = frozenset({"Counted"})

    async def apply(self, event: RecordedEvent, pipe: Pipeline, keys: Keys) -> None:
        pipe.multi()  # type: ignore[no-untyped-call]
        pipe.incrby(keys("count", event.stream_id), event.data["n"])
        pipe.rpush(keys("log", event.stream_id), event.stream_version)


class TotalsProjection:
    """Read-modify-write across streams (one hash per athlete): needs the WATCH path."""

    name = "test.totals"
    event_types = frozenset({"Counted"})

    async def apply(self, event: RecordedEvent, pipe: Pipeline, keys: Keys) -> None:
        key = keys("totals", event.athlete_id)
        await pipe.watch(key)
        current = int(await pipe.hget(key, "sum") or 0)
        await asyncio.sleep(0)  # let racing appliers interleave between read and write
        pipe.multi()  # type: ignore[no-untyped-call]
        pipe.hset(key, "sum", current + event.data["n"])


PROJECTIONS: list[Projection] = [CountProjection(), TotalsProjection()]
Batches = list[list[RecordedEvent]]


async def append(
    store: EventStore, stream_id: str, athlete: str, items: list[tuple[str, int]]
) -> list[RecordedEvent]:
    result = await store.append(
        stream_id,
        athlete,
        [NewEvent(event_type=t, data={"n": n}) for t, n in items],
        expected_version=None,
        metadata=EventMetadata(),
    )
    first = result.stream_version - len(items) + 1
    return await store.read_stream(stream_id, from_version=first)


async def workload(store: EventStore, seed: int = 7, appends: int = 40) -> Batches:
    """Appends mixing handled (Counted) and unhandled (Noted) events over a few streams."""
    rng = random.Random(seed)
    batches = []
    for _ in range(appends):
        stream = f"counter:{rng.randrange(5)}"
        athlete = f"a{int(stream[-1]) % 2}"
        items = [(rng.choice(["Counted", "Counted", "Noted"]), rng.randint(1, 9))
                 for _ in range(rng.randint(1, 3))]  # fmt: skip
        batches.append(await append(store, stream, athlete, items))
    return batches


async def dump(redis: Redis, keys: Keys) -> dict[str, Any]:
    """Every read-model key of a version (checkpoints excluded), prefix stripped."""
    out: dict[str, Any] = {}
    async for raw in redis.scan_iter(match=keys.prefix + "*", count=1000):
        key = raw.decode()
        short = key[len(keys.prefix) :]
        if short.startswith(("checkpoint:", "running:")):
            continue
        kind = await redis.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        if kind == "string":
            out[short] = await redis.get(key)
        elif kind == "list":
            out[short] = await redis.lrange(key, 0, -1)
        elif kind == "hash":
            out[short] = await redis.hgetall(key)
    return out


def expected_counts(batches: Batches) -> dict[str, int]:
    counts: dict[str, int] = {}
    for event in (e for b in batches for e in b if e.event_type == "Counted"):
        counts[event.stream_id] = counts.get(event.stream_id, 0) + event.data["n"]
    return counts


async def inline_once(world: World, batches: Batches, version: str) -> dict[str, Any]:
    keys = Keys(world.namespace, version)
    projector = Projector(world.redis, world.store, PROJECTIONS, keys)
    for batch in batches:
        await projector.apply(batch)
    return await dump(world.redis, keys)


async def test_projection_fed_twice_equals_fed_once(world: World) -> None:
    batches = await workload(world.store)
    once = await inline_once(world, batches, "once")
    for stream, total in expected_counts(batches).items():
        assert once[f"count:{stream}"] == str(total).encode()

    keys = Keys(world.namespace, "twice")
    projector = Projector(world.redis, world.store, PROJECTIONS, keys)
    for batch in batches:
        await projector.apply(batch)
        await projector.apply(batch)
    shuffled = [e for b in batches for e in b]
    random.Random(1).shuffle(shuffled)
    await projector.apply(shuffled)
    assert await dump(world.redis, keys) == once


async def test_catch_up_from_zero_equals_inline(world: World) -> None:
    batches = await workload(world.store)
    batches.append(await append(world.store, "counter:0", "a0", [("Noted", 1)]))  # unhandled last
    once = await inline_once(world, batches, "inline")

    keys = Keys(world.namespace, "replay")
    projector = Projector(world.redis, world.store, PROJECTIONS, keys, name="replay", batch=7)
    head = await world.store.head()
    assert await projector.catch_up() == head
    assert await projector.checkpoint() == head
    assert await dump(world.redis, keys) == once
    assert await projector.catch_up() == head  # nothing left, nothing applied twice
    assert await dump(world.redis, keys) == once


async def test_catch_up_after_inline_applies_only_what_a_projection_missed(
    world: World,
) -> None:
    """The catch-up's one-script fast path skips an event only when EVERY projection of its type
    applied it: here one projection was projected inline and the other was not."""
    batches = await workload(world.store, seed=3)
    expected = await inline_once(world, batches, "both")
    keys = Keys(world.namespace, "partial")
    for batch in batches:  # inline with the counter only (a replica that knew just one)
        await Projector(world.redis, world.store, [CountProjection()], keys).apply(batch)
    behind = await dump(world.redis, keys)
    assert behind != expected  # the totals are missing
    projector = Projector(world.redis, world.store, PROJECTIONS, keys, name="partial")
    head = await world.store.head()
    assert await projector.catch_up() == head
    assert await dump(world.redis, keys) == expected  # totals filled, counters not doubled
    assert await projector.checkpoint() == head


async def test_catch_up_until_stops_there(world: World) -> None:
    batches = await workload(world.store, appends=10)
    middle = batches[4][-1].global_position
    projector = Projector(world.redis, world.store, PROJECTIONS, Keys(world.namespace, "u"))
    assert await projector.catch_up(until=middle) == middle
    expected = await inline_once(world, batches[:5], "first5")
    assert await dump(world.redis, Keys(world.namespace, "u")) == expected


async def test_inline_and_catch_up_racing_equal_fed_once(world: World) -> None:
    batches = await workload(world.store, seed=11, appends=60)
    once = await inline_once(world, batches, "reference")

    keys = Keys(world.namespace, "race")
    replica1 = Projector(world.redis, world.store, PROJECTIONS, keys, name="svc", batch=5)
    replica2 = Projector(world.redis, world.store, PROJECTIONS, keys, name="svc", batch=3)

    async def inline(projector: Projector, order: Batches) -> None:
        for batch in order:
            await projector.apply(batch)

    await asyncio.gather(
        replica1.catch_up(),
        replica2.catch_up(),
        inline(replica1, list(reversed(batches))),  # newest first: every apply meets a gap
        inline(replica2, batches),
        inline(replica2, batches[::2]),
    )
    assert await dump(world.redis, keys) == once


async def test_a_gap_loads_the_missing_events_of_the_stream(world: World) -> None:
    events = await append(
        world.store,
        "counter:g",
        "a1",
        [("Counted", 1), ("Noted", 100), ("Counted", 10), ("Counted", 1000)],
    )
    keys = Keys(world.namespace, "gap")
    projector = Projector(world.redis, world.store, PROJECTIONS, keys)
    await projector.apply(events[-1:])  # only v4: v1 and v3 must be loaded first
    assert await world.redis.get(keys("count", "counter:g")) == b"1011"
    assert await world.redis.lrange(keys("log", "counter:g"), 0, -1) == [b"1", b"3", b"4"]
    await projector.apply(events)  # all already applied
    assert await world.redis.get(keys("count", "counter:g")) == b"1011"
    assert await world.redis.hget(keys("totals", "a1"), "sum") == b"1011"


async def test_run_follows_new_events_and_keeps_the_checkpoint(world: World) -> None:
    keys = Keys(world.namespace, "run")
    projector = Projector(world.redis, world.store, PROJECTIONS, keys)
    before = await workload(world.store, seed=3, appends=5)
    task = asyncio.create_task(projector.run())
    try:
        after = await workload(world.store, seed=4, appends=5)
        after.append(await append(world.store, "counter:9", "a1", [("Noted", 1)]))
        head = await world.store.head()
        deadline = time.monotonic() + 10
        while await projector.checkpoint() < head:
            assert time.monotonic() < deadline, "projector.run did not reach the head"
            await asyncio.sleep(0.01)
        assert await dump(world.redis, keys) == await inline_once(world, before + after, "ref")
    finally:
        await cancel_and_wait(task)


async def test_run_rebuilds_the_read_models_after_a_redis_flush(world: World) -> None:
    keys = Keys(world.namespace, "flush")
    projector = Projector(world.redis, world.store, PROJECTIONS, keys)
    batches = await workload(world.store, seed=5, appends=8)
    reference = await inline_once(world, batches, "flushref")
    task = asyncio.create_task(projector.run(flush_check_s=0.05))
    try:
        await wait_for_dump(world.redis, keys, reference, "the first catch-up")
        doomed = [k async for k in world.redis.scan_iter(match=keys.prefix + "*")]
        await world.redis.delete(*doomed)  # one atomic DEL: a FLUSHDB of our prefix
        late = await append(world.store, "counter:late", "a1", [("Counted", 5)])
        reference = await inline_once(world, [*batches, late], "flushref2")
        await wait_for_dump(world.redis, keys, reference, "the rebuild after the flush")
    finally:
        await cancel_and_wait(task)


async def wait_for_dump(redis: Redis, keys: Keys, expected: dict[str, Any], what: str) -> None:
    deadline = time.monotonic() + 15
    while (await dump(redis, keys)) != expected:
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)
