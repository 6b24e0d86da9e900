"""migrate(): versioned, idempotent, safe when several processes run it at once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from maratron_contracts.envelope import EventMetadata, NewEvent
from maratron_contracts.errors import Unavailable
from maratron_eventstore import EventStore
from maratron_eventstore.migrations import MIGRATIONS

StoreFactory = Callable[..., Awaitable[EventStore]]


async def test_concurrent_migrations_apply_each_version_once(make_store: StoreFactory) -> None:
    stores = [await make_store(migrate=False) for _ in range(3)]
    await asyncio.gather(*(s.migrate() for s in stores))
    await stores[0].migrate()  # and again: a no-op
    ns = stores[0].namespace
    versions = await stores[0].pool.fetch(f"SELECT version FROM {ns}.schema_migrations")
    assert sorted(r["version"] for r in versions) == [m.version for m in MIGRATIONS]
    tables = await stores[0].pool.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", ns
    )
    assert {r["table_name"] for r in tables} == {
        "schema_migrations", "events", "commands", "checkpoints", "personal_keys"
    }  # fmt: skip
    assert await stores[0].head() == 0


async def test_unreachable_database_is_unavailable() -> None:
    with pytest.raises(Unavailable):
        await EventStore.connect("postgresql://postgres@127.0.0.1:1/test", namespace="nowhere")


async def test_migrate_recreates_the_functions(make_store: StoreFactory) -> None:
    store = await make_store()
    await store.pool.execute(f"DROP FUNCTION {store.namespace}.append_events")
    await store.migrate()
    result = await store.append(
        "run:m", "ath1", [NewEvent(event_type="Tick", data={})], expected_version=0,
        metadata=EventMetadata(),
    )  # fmt: skip
    assert result.global_position == 1
