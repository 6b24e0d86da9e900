"""Reads: streams, the global order with filters, upcasting, subscriptions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
from uuid import uuid4

import pytest
from maratron_contracts.envelope import Actor, EventMetadata, NewEvent, RecordedEvent
from maratron_eventstore import EventStore, StreamInfo
from maratron_eventstore.listener import NotifyListener

StoreFactory = Callable[..., Awaitable[EventStore]]

META = EventMetadata(trace_id="t-1")


def ev(event_type: str, **data: object) -> NewEvent:
    return NewEvent(event_type=event_type, data=dict(data))


async def test_read_stream_and_info(store: EventStore) -> None:
    await store.append("run:r1", "ath1", [ev("A", i=1), ev("B", i=2), ev("A", i=3)],
                       expected_version=0, metadata=META)  # fmt: skip
    events = await store.read_stream("run:r1", from_version=2)
    assert [(e.stream_version, e.event_type, e.data["i"]) for e in events] == [
        (2, "B", 2),
        (3, "A", 3),
    ]
    assert events[0].metadata.trace_id == "t-1"
    assert events[0].category == "run"
    assert await store.stream_info("run:r1") == StreamInfo("run:r1", "ath1", 3)
    assert await store.read_stream("run:none") == []


async def test_read_all_pages_until_and_types(store: EventStore) -> None:
    for i in range(5):
        await store.append(f"run:p{i}", "ath1", [ev("A", i=i), ev("B", i=i)],
                           expected_version=0, metadata=META)  # fmt: skip
    assert await store.head() == 10
    page = await store.read_all(3, limit=4)
    assert [e.global_position for e in page] == [4, 5, 6, 7]
    assert [e.global_position for e in await store.read_all(5, until=8)] == [6, 7, 8]
    only_b = await store.read_all(0, event_types=["B"])
    assert [e.global_position for e in only_b] == [2, 4, 6, 8, 10]
    assert [e.global_position for e in await store.read_all(4, limit=2, event_types={"A"})] == [
        5,
        7,
    ]
    assert await store.read_all(10) == []


async def test_old_versions_are_upcast_on_read_unknown_types_pass_raw(store: EventStore) -> None:
    await store.append(
        "run:u1", "ath1",
        [NewEvent(event_type="RunLogged", schema_version=1, data={"km": 10.5}),
         NewEvent(event_type="RunLogged", schema_version=2, data={"distance_km": 5.0}),
         NewEvent(event_type="Mystery", schema_version=7, data={"x": [1, 2]})],
        expected_version=0, metadata=META,
    )  # fmt: skip
    old, new, unknown = await store.read_stream("run:u1")
    assert (old.schema_version, old.data) == (2, {"distance_km": 10.5})
    assert (new.schema_version, new.data) == (2, {"distance_km": 5.0})
    assert (unknown.schema_version, unknown.data) == (7, {"x": [1, 2]})
    # Stored data is never rewritten.
    stored = await store.pool.fetchval(
        f"SELECT data FROM {store.namespace}.events WHERE global_position = 1"
    )
    assert stored == {"km": 10.5}


async def _collect(
    it: AsyncGenerator[RecordedEvent, None],
    n: int,
    into: list[RecordedEvent],
    first: asyncio.Event | None = None,
) -> None:
    async for event in it:
        into.append(event)
        if first is not None:
            first.set()
        if len(into) == n:
            return


async def test_subscribe_catches_up_then_follows_live(store: EventStore) -> None:
    await store.append("run:s1", "ath1", [ev("A", i=0), ev("A", i=1)],
                       expected_version=0, metadata=META)  # fmt: skip
    seen: list[RecordedEvent] = []
    sub = store.subscribe(0, batch=1)
    task = asyncio.create_task(_collect(sub, 5, seen))
    for i in range(2, 5):
        await store.append("run:s1", "ath1", [ev("A", i=i)], expected_version=i, metadata=META)
    async with asyncio.timeout(10):
        await task
    await sub.aclose()
    assert [e.data["i"] for e in seen] == [0, 1, 2, 3, 4]
    assert [e.global_position for e in seen] == [1, 2, 3, 4, 5]


async def _listeners(store: EventStore) -> int:
    count: int = await store.pool.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
        f"{store.namespace}_events_listener",
    )
    return count


async def _until_listening(store: EventStore) -> None:
    """Poll Postgres until the subscriber's LISTEN connection is back (caller bounds the wait)."""
    while await _listeners(store) != 1:  # noqa: ASYNC110 - a server-side condition, no event
        await asyncio.sleep(0.01)


async def test_subscribe_survives_a_dropped_listener(store: EventStore) -> None:
    seen: list[RecordedEvent] = []
    sub = store.subscribe(0)
    first = asyncio.Event()
    task = asyncio.create_task(_collect(sub, 2, seen, first))
    await store.append("run:s2", "ath1", [ev("A", i=0)], expected_version=0, metadata=META)
    async with asyncio.timeout(10):
        await first.wait()
        killed = await store.pool.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = $1",
            f"{store.namespace}_events_listener",
        )
        assert killed == 1
        await _until_listening(store)  # the subscriber opened a new LISTEN connection
        await store.append("run:s2", "ath1", [ev("A", i=1)], expected_version=1, metadata=META)
        await task
    await sub.aclose()
    assert [e.data["i"] for e in seen] == [0, 1]
    assert await _listeners(store) == 0  # closing the subscription closes its connection


async def test_subscribe_falls_back_to_polling_without_notifications(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(NotifyListener, "_on_notify", lambda *_args: None)  # every NOTIFY lost
    store.fallback_poll_seconds = 0.05
    seen: list[RecordedEvent] = []
    sub = store.subscribe(0)
    first = asyncio.Event()
    task = asyncio.create_task(_collect(sub, 2, seen, first))
    await store.append("run:s3", "ath1", [ev("A", i=0)], expected_version=0, metadata=META)
    async with asyncio.timeout(10):
        await first.wait()
        # Appended after the first read returned: only a later poll can deliver it.
        await store.append("run:s3", "ath1", [ev("A", i=1)], expected_version=1, metadata=META)
        await task
    await sub.aclose()
    assert [e.data["i"] for e in seen] == [0, 1]


async def test_subscribe_rides_out_lost_database_connections(make_store: StoreFactory) -> None:
    writer = await make_store()
    reader = await make_store(migrate=False, max_size=1)
    reader.fallback_poll_seconds = 0.05
    seen: list[RecordedEvent] = []
    first = asyncio.Event()
    sub = reader.subscribe(0)
    task = asyncio.create_task(_collect(sub, 2, seen, first))
    await writer.append("run:s4", "ath1", [ev("A", i=0)], expected_version=0, metadata=META)
    async with asyncio.timeout(10):
        await first.wait()
        async with reader._db.acquire() as conn:  # the store's only own connection
            pooled = conn.get_server_pid()
        killed = await writer.pool.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE pid = $1 OR application_name = $2",
            pooled,
            f"{reader.namespace}_events_listener",
        )
        assert killed == 2  # the reader's pooled connection and its LISTEN connection
        await writer.append("run:s4", "ath1", [ev("A", i=1)], expected_version=1, metadata=META)
        await task
    await sub.aclose()
    assert [e.data["i"] for e in seen] == [0, 1]


async def test_decoded_events_equal_validated_ones(store: EventStore) -> None:
    """The decoder fills models without validation: they must be indistinguishable."""
    meta = EventMetadata(command_id=uuid4(), actor=Actor(subject="ath1", roles=("athlete",)))
    await store.append("run:v1", "ath1", [ev("A", n=1.5, s="x", l=[1, {"k": None}])],
                       expected_version=0, metadata=meta)  # fmt: skip
    (event,) = await store.read_stream("run:v1")
    validated = RecordedEvent.model_validate(event.model_dump())
    assert event == validated
    assert event.model_dump() == validated.model_dump()
    assert RecordedEvent.model_validate_json(event.model_dump_json()) == event
    assert event.metadata == meta
    assert event.model_fields_set == validated.model_fields_set
    assert event.model_copy(update={"hash": None}).hash is None


async def test_pool_is_usable_for_raw_sql(store: EventStore) -> None:
    async with store.pool.acquire() as conn:
        assert await conn.fetchval("SELECT '{\"a\": 1}'::jsonb") == {"a": 1}


async def test_closing_the_store_ends_its_subscriptions(make_store: StoreFactory) -> None:
    store = await make_store()
    await store.append("run:z", "ath1", [ev("A", i=0)], expected_version=0, metadata=META)
    seen: list[RecordedEvent] = []
    first = asyncio.Event()
    task = asyncio.create_task(_collect(store.subscribe(0), 99, seen, first))
    async with asyncio.timeout(10):
        await first.wait()  # caught up; now waiting for NOTIFY
        await store.close()
        await task  # the iteration ended: no error, no hang
    assert len(seen) == 1
