"""Round trips per call, counted on a real connection: the fast paths of a command.

An append whose events carry no personal value must not fetch (or create) the athlete's key;
a stream read must bring the key of its sealed fields in the same statement. Both must keep the
crypto-shredding rules exact: a personal value is sealed with the key, or stored as "[erased]"
once the athlete was erased.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import uuid4

import asyncpg
from maratron_contracts.envelope import EventMetadata, NewEvent
from maratron_eventstore import EventStore

StoreFactory = Callable[..., Awaitable[EventStore]]

META = EventMetadata()


@asynccontextmanager
async def statements(store: EventStore) -> AsyncIterator[list[str]]:
    """The SQL the store sends while the block runs (a one-connection store: every statement
    goes over the connection the logger is attached to)."""
    sent: list[str] = []

    def record(query: asyncpg.connection.LoggedQuery) -> None:
        sent.append(query.query)

    async with store._db.acquire() as conn:  # the store's own pool, white-box on purpose
        conn.add_query_logger(record)
    try:
        yield sent
        await asyncio.sleep(0)  # the logger is called soon after each query, not inside it
    finally:
        async with store._db.acquire() as conn:
            conn.remove_query_logger(record)


async def one_connection(make_store: StoreFactory) -> EventStore:
    store = await make_store(min_size=1, max_size=1)
    # Warm up: prepared statements and the athlete's key exist, as in a running service.
    await store.append("athlete:warm", "warm", [registered("W", "w@x.org")],
                       expected_version=0, metadata=META)  # fmt: skip
    await store.read_stream("athlete:warm")
    return store


def registered(name: str | None, email: str | None = None) -> NewEvent:
    return NewEvent(
        event_type="AthleteRegistered", data={"name": name, "email": email, "units": "km"}
    )


def runs(n: int) -> Iterator[NewEvent]:
    for i in range(n):
        yield NewEvent(
            event_type="RunLogged", schema_version=2, data={"distance_km": 5.0 + i, "note": "easy"}
        )


async def keys_of(store: EventStore, athlete_id: str) -> list[Any]:
    rows = await store.pool.fetch(
        f"SELECT key FROM {store.namespace}.personal_keys WHERE athlete_id = $1", athlete_id
    )
    return [r["key"] for r in rows]


async def stored_data(store: EventStore, stream_id: str) -> list[dict[str, Any]]:
    rows = await store.pool.fetch(
        f"SELECT data FROM {store.namespace}.events WHERE stream_id = $1 ORDER BY stream_version",
        stream_id,
    )
    return [r["data"] for r in rows]


async def test_append_without_personal_values_is_one_statement(make_store: StoreFactory) -> None:
    store = await one_connection(make_store)
    async with statements(store) as sent:
        await store.append("run:1", "ann", list(runs(2)), expected_version=0, metadata=META,
                           command_id=uuid4(), result_data={"ok": True})  # fmt: skip
        # A type with personal fields whose values are absent or None: nothing to seal either.
        await store.append("athlete:ann", "ann", [registered(None)], expected_version=0,
                           metadata=META)  # fmt: skip
    assert len(sent) == 2, sent
    assert all("append_events" in q for q in sent), sent
    assert await keys_of(store, "ann") == []  # no key created for nothing
    assert (await stored_data(store, "athlete:ann"))[0] == {
        "name": None, "email": None, "units": "km"
    }  # fmt: skip


async def test_append_with_a_personal_value_fetches_the_key(make_store: StoreFactory) -> None:
    store = await one_connection(make_store)
    async with statements(store) as sent:
        await store.append("athlete:bo", "bo", [*runs(1), registered("Bo", None)],
                           expected_version=0, metadata=META)  # fmt: skip
    assert len(sent) == 2 and "personal_key" in sent[0], sent
    (key,) = await keys_of(store, "bo")
    assert key is not None
    plain, sealed = await stored_data(store, "athlete:bo")
    assert plain == {"distance_km": 5.0, "note": "easy"}
    assert set(sealed["name"]) == {"$enc"} and sealed["email"] is None
    assert [e.data.get("name") for e in await store.read_stream("athlete:bo")] == [None, "Bo"]


async def test_erased_athlete_personal_values_are_stored_erased(make_store: StoreFactory) -> None:
    """Erased before any personal data (so no key ever existed): a personal value arriving
    later is still stored as "[erased]", an event without one is stored as sent."""
    store = await one_connection(make_store)
    await store.erase_athlete("cy")
    await store.append("athlete:cy", "cy", [registered(None)], expected_version=0,
                       metadata=META)  # fmt: skip
    await store.append("athlete:cy", "cy", [registered("Cy Doe", "cy@x.org")],
                       expected_version=1, metadata=META)  # fmt: skip
    nothing, erased = await stored_data(store, "athlete:cy")
    assert nothing == {"name": None, "email": None, "units": "km"}
    assert erased == {"name": "[erased]", "email": "[erased]", "units": "km"}
    assert await keys_of(store, "cy") == [None]  # still no key
    read = await store.read_stream("athlete:cy")
    assert [e.data["name"] for e in read] == [None, "[erased]"]


async def test_reading_a_sealed_stream_is_one_statement(make_store: StoreFactory) -> None:
    store = await one_connection(make_store)
    await store.append("athlete:di", "di", [registered("Di", "di@x.org"), *runs(1)],
                       expected_version=0, metadata=META)  # fmt: skip
    async with statements(store) as sent:
        first = await store.read_stream("athlete:di")
        tail = await store.read_stream("athlete:di", from_version=2)
        empty = await store.read_stream("athlete:nobody")
    assert len(sent) == 3, sent
    assert first[0].data == {"name": "Di", "email": "di@x.org", "units": "km"}
    assert [e.stream_version for e in tail] == [2] and empty == []
    # The same events as the page path (keys fetched after the read) gives.
    assert first == [e for e in await store.read_all(0) if e.stream_id == "athlete:di"]

    await store.erase_athlete("di")
    async with statements(store) as sent:
        after = await store.read_stream("athlete:di")
    assert len(sent) == 1, sent
    assert after[0].data == {"name": "[erased]", "email": "[erased]", "units": "km"}
    assert after[1].data == first[1].data


async def test_a_stream_read_opens_each_event_with_its_own_athletes_key(
    make_store: StoreFactory,
) -> None:
    """Streams have one owner, but the join is per row: a row of another athlete (here put
    there by hand) is opened with that athlete's key, as the page path does."""
    store = await make_store()
    await store.append("athlete:ed", "ed", [registered("Ed", "ed@x.org")], expected_version=0,
                       metadata=META)  # fmt: skip
    await store.append("athlete:fay", "fay", [registered("Fay", "fay@x.org")],
                       expected_version=0, metadata=META)  # fmt: skip
    await store.pool.execute(
        f"UPDATE {store.namespace}.events SET stream_id = 'athlete:ed', stream_version = 2"
        " WHERE stream_id = 'athlete:fay'"
    )
    await store.erase_athlete("ed")
    ed, fay = await store.read_stream("athlete:ed")
    assert ed.data["name"] == "[erased]"
    assert fay.athlete_id == "fay" and fay.data["name"] == "Fay"
