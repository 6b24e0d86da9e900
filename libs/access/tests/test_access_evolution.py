"""Schema evolution: a stored version-1 ApiKeyIssued (a fixture checked into the repo) reads back
as version 2 through every path: the store, inline projection, a replay, key verification,
listing and audit."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from maratron_access.control import AccessControl
from maratron_access.projections import AccessProjection
from maratron_contracts.envelope import Actor, EventMetadata, NewEvent
from maratron_contracts.registry import load_all
from maratron_eventstore import EventStore
from maratron_projections import Keys, Projector
from maratron_projections.rebuild import rebuild
from maratron_service.testing import drop_namespace
from maratron_testing.plugin import StackUrls
from redis.asyncio import Redis

FIXTURE: dict[str, Any] = json.loads(
    (Path(__file__).parent / "fixtures" / "api_key_issued_v1.json").read_text()
)


@pytest.fixture
async def world(
    maratron_stack: StackUrls, namespace: str
) -> AsyncIterator[tuple[EventStore, Redis, Keys]]:
    store = await EventStore.connect(
        maratron_stack.database_url, namespace=namespace, registry=load_all()
    )
    await store.migrate()
    redis = Redis.from_url(maratron_stack.redis_url)
    try:
        yield store, redis, Keys(namespace)
    finally:
        await redis.aclose()
        await store.close()
        await drop_namespace(maratron_stack, namespace)


async def _store_v1(store: EventStore) -> None:
    await store.append(
        FIXTURE["stream_id"],
        FIXTURE["athlete_id"],
        [NewEvent(event_type="ApiKeyIssued", schema_version=1, data=FIXTURE["data"])],
        expected_version=0,
        metadata=EventMetadata(actor=Actor.system("fixture")),
    )


async def test_v1_event_reads_back_as_v2_everywhere(
    world: tuple[EventStore, Redis, Keys],
) -> None:
    store, redis, keys = world
    await _store_v1(store)

    (event,) = await store.read_stream(FIXTURE["stream_id"])
    assert event.data["scopes"] == ["insights:read", "runs:read"] and "scope" not in event.data
    assert event.data["name"] == "old watch"  # personal field decrypted after the upcast
    (audited,) = await store.history(athlete_id=FIXTURE["athlete_id"])
    assert audited.data == event.data

    access = AccessControl(store, redis, keys)
    await Projector(redis, store, [AccessProjection()], keys).catch_up()
    verified = await access.verify_key(FIXTURE["plaintext_key"])
    assert verified is not None and verified.scopes == ["insights:read", "runs:read"]
    assert verified.roles == []

    async for key in redis.scan_iter(match=f"{keys.prefix}*"):
        await redis.delete(key)
    await rebuild(store, redis, [AccessProjection()], keys.namespace)
    listed = await access.list_keys(FIXTURE["athlete_id"])
    assert [k.scopes for k in listed] == [["insights:read", "runs:read"]]
    assert await access.verify_key(FIXTURE["plaintext_key"]) is not None
    assert await store.verify_chains() == []
