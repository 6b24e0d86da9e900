"""Fixtures: an EventStore on a fresh Postgres schema (namespace) per test, dropped afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from maratron_contracts.messages import Event
from maratron_contracts.registry import Registry
from maratron_eventstore import EventStore
from maratron_testing.plugin import StackUrls, new_namespace

registry = Registry()


@registry.event
class AthleteRegistered(Event):
    category = "athlete"
    event_type = "AthleteRegistered"
    personal_fields = frozenset({"name", "email"})
    name: str
    email: str
    units: str


@registry.event
class RunLogged(Event):
    """v2 renamed `km` to `distance_km`; v1 events are upcast on read."""

    category = "run"
    event_type = "RunLogged"
    schema_version = 2
    distance_km: float
    note: str = ""


@registry.upcaster("RunLogged", 1)
def _run_logged_v1_v2(data: dict[str, Any]) -> dict[str, Any]:
    data["distance_km"] = data.pop("km")
    return data


StoreFactory = Callable[..., Awaitable[EventStore]]


@pytest.fixture
async def make_store(maratron_stack: StackUrls) -> AsyncIterator[StoreFactory]:
    """Opens stores on one fresh namespace; migrates unless told not to; drops it at the end."""
    namespace = new_namespace("es")
    opened: list[EventStore] = []

    async def make(*, migrate: bool = True, **kwargs: Any) -> EventStore:
        kwargs.setdefault("registry", registry)
        store = await EventStore.connect(maratron_stack.database_url, namespace=namespace, **kwargs)
        opened.append(store)
        if migrate:
            await store.migrate()
        return store

    yield make
    for store in opened:
        await store.close()
    conn = await asyncpg.connect(maratron_stack.database_url)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {namespace} CASCADE")
    finally:
        await conn.close()


@pytest.fixture
async def store(make_store: StoreFactory) -> EventStore:
    return await make_store()
