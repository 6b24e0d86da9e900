"""Gap-free global order under concurrent writers, seen by followers reading at the same time."""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from collections.abc import Awaitable, Callable

from maratron_contracts.envelope import EventMetadata, NewEvent, RecordedEvent
from maratron_eventstore import EventStore

StoreFactory = Callable[..., Awaitable[EventStore]]

WRITERS = 20
PER_WRITER = 500
TOTAL = WRITERS * PER_WRITER


async def _write(store: EventStore, writer: int) -> None:
    """One stream per writer; batches of 1-16 events so multi-event appends interleave too."""
    stream, version = f"run:w{writer}", 0
    for size in itertools.cycle(range(1, 17)):
        if version == PER_WRITER:
            return
        n = min(size, PER_WRITER - version)
        batch = [
            NewEvent(event_type="Tick", data={"w": writer, "v": version + k + 1}) for k in range(n)
        ]
        result = await store.append(
            stream, f"ath{writer}", batch, expected_version=version, metadata=EventMetadata()
        )
        version = result.stream_version


async def _follow_subscription(store: EventStore, seen: list[RecordedEvent]) -> None:
    sub = store.subscribe(0, batch=257)
    try:
        async for event in sub:
            seen.append(event)
            if len(seen) == TOTAL:
                return
    finally:
        await sub.aclose()


async def _follow_read_all(store: EventStore, seen: list[RecordedEvent]) -> None:
    position = 0
    while len(seen) < TOTAL:
        page = await store.read_all(position, limit=300)
        seen.extend(page)
        if page:
            position = page[-1].global_position
        else:
            await asyncio.sleep(0.005)  # writers are still committing; poll again


def _check(seen: list[RecordedEvent]) -> None:
    assert len(seen) == TOTAL
    assert len({e.event_id for e in seen}) == TOTAL  # exactly once
    positions = [e.global_position for e in seen]
    assert positions == list(range(1, TOTAL + 1))  # strictly increasing, no gap, no skip
    versions: dict[str, list[int]] = defaultdict(list)
    for e in seen:
        versions[e.stream_id].append(e.stream_version)
        assert e.data["v"] == e.stream_version
    assert len(versions) == WRITERS
    for stream_versions in versions.values():
        assert stream_versions == list(range(1, PER_WRITER + 1))


async def test_concurrent_writers_followers_see_every_event_once_in_order(
    make_store: StoreFactory,
) -> None:
    writer_store = await make_store(max_size=10)
    follower_store = await make_store(migrate=False, max_size=2)
    by_subscription: list[RecordedEvent] = []
    by_read_all: list[RecordedEvent] = []
    async with asyncio.timeout(90):
        await asyncio.gather(
            _follow_subscription(follower_store, by_subscription),
            _follow_read_all(follower_store, by_read_all),
            *(_write(writer_store, w) for w in range(WRITERS)),
        )
    _check(by_subscription)
    _check(by_read_all)
    assert await writer_store.head() == TOTAL
    assert await writer_store.verify_chains() == []
