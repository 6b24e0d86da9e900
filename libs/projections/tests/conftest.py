"""Fixtures: a fresh namespace per test with its event store (Postgres schema), Redis client and
NATS connection; everything the test created is removed afterwards."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import nats
import pytest
from maratron_contracts.subjects import events_stream_name
from maratron_eventstore import EventStore
from maratron_testing.plugin import StackUrls
from nats.aio.client import Client as NATS
from redis.asyncio import Redis


@dataclass
class World:
    namespace: str
    store: EventStore
    redis: Redis
    stack: StackUrls


@pytest.fixture
async def world(maratron_stack: StackUrls, namespace: str) -> AsyncIterator[World]:
    store = await EventStore.connect(maratron_stack.database_url, namespace=namespace)
    await store.migrate()
    redis = Redis.from_url(maratron_stack.redis_url)
    try:
        yield World(namespace, store, redis, maratron_stack)
    finally:
        async for key in redis.scan_iter(match=f"{namespace}:*", count=1000):
            await redis.delete(key)
        await redis.aclose()
        await store.close()
        conn = await asyncpg.connect(maratron_stack.database_url)
        try:
            await conn.execute(f"DROP SCHEMA IF EXISTS {namespace} CASCADE")
        finally:
            await conn.close()


@pytest.fixture
async def nats_client(maratron_stack: StackUrls, namespace: str) -> AsyncIterator[NATS]:
    nc = await nats.connect(maratron_stack.nats_url)
    try:
        yield nc
    finally:
        with contextlib.suppress(Exception):
            await nc.jetstream().delete_stream(events_stream_name(namespace))
        await nc.close()
