"""Crypto-shredding: personal fields are encrypted at rest and unreadable after erasure."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from maratron_contracts.envelope import EventMetadata, NewEvent
from maratron_eventstore import EventStore

StoreFactory = Callable[..., Awaitable[EventStore]]

META = EventMetadata()


def registered(name: str, email: str) -> NewEvent:
    return NewEvent(
        event_type="AthleteRegistered", data={"name": name, "email": email, "units": "km"}
    )


async def test_personal_fields_are_encrypted_at_rest_and_read_back(store: EventStore) -> None:
    await store.append("athlete:ann", "ann", [registered("Ann Lee", "ann@example.org")],
                       expected_version=0, metadata=META)  # fmt: skip
    raw = await store.pool.fetchval(f"SELECT data::text FROM {store.namespace}.events")
    assert "Ann Lee" not in raw and "ann@example.org" not in raw
    assert '"units": "km"' in raw  # not personal: stored in clear
    (event,) = await store.read_stream("athlete:ann")
    assert event.data == {"name": "Ann Lee", "email": "ann@example.org", "units": "km"}


async def test_erasure_hides_personal_fields_and_keeps_the_chain(store: EventStore) -> None:
    await store.append("athlete:bob", "bob", [registered("Bob Ray", "bob@example.org")],
                       expected_version=0, metadata=META)  # fmt: skip
    await store.append("athlete:cy", "cy", [registered("Cy Doe", "cy@example.org")],
                       expected_version=0, metadata=META)  # fmt: skip
    await store.append("run:bob1", "bob", [NewEvent(event_type="Tick", data={"km": 5})],
                       expected_version=0, metadata=META)  # fmt: skip
    await store.erase_athlete("bob")

    bob = (await store.read_stream("athlete:bob"))[0]
    assert bob.data == {"name": "[erased]", "email": "[erased]", "units": "km"}
    assert (await store.read_stream("run:bob1"))[0].data == {"km": 5}
    cy = (await store.read_all(0, event_types=["AthleteRegistered"]))[1]
    assert cy.data["name"] == "Cy Doe"  # other athletes unaffected
    assert await store.verify_chains() == []
    key = await store.pool.fetchval(
        f"SELECT key FROM {store.namespace}.personal_keys WHERE athlete_id = 'bob'"
    )
    assert key is None

    # Personal data arriving after erasure is never stored; no new key is created.
    await store.append("athlete:bob", "bob", [registered("Bob Again", "b@example.org")],
                       expected_version=1, metadata=META)  # fmt: skip
    again = (await store.read_stream("athlete:bob", from_version=2))[0]
    assert again.data["name"] == "[erased]"
    raw = await store.pool.fetchval(
        f"SELECT string_agg(data::text, '') FROM {store.namespace}.events"
    )
    assert "Bob" not in raw


async def test_store_without_registry_still_decrypts(make_store: StoreFactory) -> None:
    writer = await make_store()
    reader = await make_store(migrate=False, registry=None)
    await writer.append("athlete:dee", "dee", [registered("Dee", "dee@example.org")],
                        expected_version=0, metadata=META)  # fmt: skip
    (event,) = await reader.read_stream("athlete:dee")
    assert event.data["name"] == "Dee"
