"""Shared end-to-end fixtures: one cluster per session (runs, context and insights services
when runnable, two gateway replicas) on the session's stack and namespace, real HTTP clients.

Fixtures:
  cluster         (session)  the running `Cluster` (gateway_urls, token(), processes)
  gateway_url     (session)  the first gateway's MCP URL
  athlete_id      (function) a fresh subject, so every test starts from an empty world
  era             (param)    "modern" (2026-07-28, sessionless) or "legacy" (2025-11-25)
  connect         (function) `async with connect(url, subject, era) as client` -> fastmcp Client
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client
from maratron_testing.plugin import StackUrls

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.e2e.cluster import Cluster, running_cluster

START_UP_TIMEOUT_S = 600  # the first test also waits for the cluster on a busy machine

ERAS = {"modern": ("auto", "2026-07-28"), "legacy": ("legacy", "2025-11-25")}
Connect = Callable[..., AbstractAsyncContextManager[Client[Any]]]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.timeout(START_UP_TIMEOUT_S))


@pytest.fixture(scope="session")
def cluster(maratron_stack: StackUrls) -> Iterator[Cluster]:
    # A busy shared machine can queue 50 concurrent commands for seconds: the suite checks
    # exactness under concurrency here, not latency (the runs-down test keeps its own short
    # deadline).
    with running_cluster(
        maratron_stack, prefix="maratron-e2e-", gateways=2,
        extra_env={"MARATRON_COMMAND_TIMEOUT_S": "30"},
    ) as running:  # fmt: skip
        yield running


@pytest.fixture(scope="session")
def gateway_url(cluster: Cluster) -> str:
    return cluster.gateway_urls[0]


@pytest.fixture
def athlete_id() -> str:
    return f"ath-{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=sorted(ERAS))
def era(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def client_for(
    cluster: Cluster, url: str, subject: str, era: str = "modern", **kw: Any
) -> Client[Any]:
    mode, _ = ERAS[era]
    return Client(url, auth=cluster.token(subject, **kw), mode=mode, timeout=30)


@pytest.fixture
def connect(cluster: Cluster) -> Connect:
    @asynccontextmanager
    async def _connect(
        url: str, subject: str, era: str = "modern", **kw: Any
    ) -> AsyncIterator[Client[Any]]:
        async with client_for(cluster, url, subject, era, **kw) as client:
            assert client.protocol_version == ERAS[era][1], "the requested era was negotiated"
            yield client

    return _connect
