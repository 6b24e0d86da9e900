"""Security suite fixtures: one process-level cluster for the whole suite (runs, context and
insights services when runnable, one gateway with default limits and RFC 9728 metadata), built
with `tests/e2e/cluster.py`; extra gateway replicas are started by the tests that need them.

Fixtures:
  sec_cluster  (session)  the running `Cluster`
  gateway      (session)  the first gateway's MCP URL
  access       (session)  an `AccessControl` on the cluster's namespace (API keys, denials)
  store        (session)  an `EventStore` on the cluster's namespace (event counts)
  connect      (function) `async with connect(subject, url=None, era=..., **token) as client`
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client
from maratron_access.control import AccessControl
from maratron_contracts.registry import load_all
from maratron_eventstore import EventStore
from maratron_projections import Keys
from maratron_testing.plugin import StackUrls
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.e2e.cluster import Cluster, running_cluster

START_UP_TIMEOUT_S = 600
PUBLIC_URL = "http://127.0.0.1"
ISSUER_URL = "http://127.0.0.1/issuer"
ERAS = {"modern": "auto", "legacy": "legacy"}
Connect = Callable[..., AbstractAsyncContextManager[Client[Any]]]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.timeout(START_UP_TIMEOUT_S))
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def sec_cluster(maratron_stack: StackUrls) -> Iterator[Cluster]:
    extra_env = {
        "MARATRON_PUBLIC_URL": PUBLIC_URL,
        "MARATRON_AUTHORIZATION_SERVERS": f'["{ISSUER_URL}"]',
    }
    with running_cluster(
        maratron_stack, prefix="maratron-sec-", gateways=1, extra_env=extra_env
    ) as running:
        yield running


@pytest.fixture(scope="session")
def gateway(sec_cluster: Cluster) -> str:
    return sec_cluster.gateway_urls[0]


@pytest.fixture(scope="session")
async def store(sec_cluster: Cluster) -> AsyncIterator[EventStore]:
    es = await EventStore.connect(
        sec_cluster.database_url, namespace=sec_cluster.namespace, registry=load_all(), max_size=2
    )
    try:
        yield es
    finally:
        await es.close()


@pytest.fixture(scope="session")
async def access(sec_cluster: Cluster, store: EventStore) -> AsyncIterator[AccessControl]:
    redis = Redis.from_url(sec_cluster.redis_url)
    try:
        yield AccessControl(store, redis, Keys(sec_cluster.namespace))
    finally:
        await redis.aclose()


async def domain_event_count(store: EventStore) -> int:
    """Events other than the audit of refused calls (those are expected to grow)."""
    count: int = await store.pool.fetchval(
        f"SELECT count(*) FROM {store.namespace}.events WHERE event_type <> 'CallRejected'"
    )
    return count


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> bool:
    """Poll an async condition until true (background writes: denials, expiries)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        if await check():
            return True
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.05)


@pytest.fixture
def connect(sec_cluster: Cluster, gateway: str) -> Connect:
    @asynccontextmanager
    async def _connect(
        subject: str | None = None,
        *,
        url: str | None = None,
        era: str = "modern",
        auth: str | None = None,
        **token: Any,
    ) -> AsyncIterator[Client[Any]]:
        bearer = auth or sec_cluster.token(subject or "nobody", **token)
        client: Client[Any] = Client(url or gateway, auth=bearer, mode=ERAS[era], timeout=30)
        async with client:
            yield client

    return _connect
