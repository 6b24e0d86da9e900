"""Two gateway replicas behind a round-robin proxy: a limit of N calls per window admits N in
total across both (Redis holds the state), a limited call says when to retry, and both MCP
protocol eras work through the proxy (stateless: any replica serves any request)."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastmcp import Client

from tests.e2e.cluster import Cluster
from tests.security.conftest import ERAS
from tests.security.proxy import RoundRobinProxy

LIMIT = 6  # read-tier calls per window for these two replicas


@pytest.fixture(scope="module")
def replicas(sec_cluster: Cluster) -> list[str]:
    urls = [
        sec_cluster.start_gateway(wait=False, MARATRON_RATE_LIMIT_READ=str(LIMIT)) for _ in range(2)
    ]
    for name in list(sec_cluster.processes)[-2:]:
        sec_cluster.wait_ready(name)
    return urls


@pytest.fixture
async def proxy(replicas: list[str]) -> AsyncIterator[tuple[str, RoundRobinProxy]]:
    balancer = RoundRobinProxy([u.removesuffix("/mcp") for u in replicas])
    async with balancer.running() as url:
        yield url, balancer


@pytest.mark.parametrize("era", sorted(ERAS))
async def test_both_eras_through_the_proxy(
    sec_cluster: Cluster, proxy: tuple[str, RoundRobinProxy], era: str
) -> None:
    url, balancer = proxy
    subject = f"ath-{uuid.uuid4().hex[:10]}"
    async with Client(url, auth=sec_cluster.token(subject), mode=ERAS[era], timeout=30) as client:
        tools = {t.name for t in await client.list_tools()}
        assert {"ping", "grant_access", "usage_report"} <= tools
        out = await client.call_tool("register_athlete", {"name": "Era", "email": "e@ex.org"})
        assert out.structured_content is not None
        profile = await client.call_tool("get_profile", {})
        assert profile.structured_content is not None
        assert profile.structured_content["athlete_id"] == subject
    assert all(n > 0 for n in balancer.served), f"both replicas served: {balancer.served}"


async def test_limit_holds_across_replicas(
    sec_cluster: Cluster, proxy: tuple[str, RoundRobinProxy]
) -> None:
    url, _ = proxy
    subject = f"ath-{uuid.uuid4().hex[:10]}"
    admitted: list[str] = []
    refused: list[str] = []
    async with Client(url, auth=sec_cluster.token(subject), timeout=30) as client:
        for _ in range(2 * LIMIT + 2):
            result: Any = await client.call_tool("ping", {}, raise_on_error=False)
            if result.is_error:
                refused.append(result.content[0].text)
            else:
                admitted.append(result.structured_content["replica"])
    async with Client(sec_cluster.gateway_urls[0], auth=sec_cluster.token(subject)) as direct:
        report = (await direct.call_tool("usage_report", {})).structured_content
    assert len(admitted) == LIMIT, f"{len(admitted)} admitted across both replicas"
    assert set(admitted) == {"gateway-2", "gateway-3"}, "both replicas admitted some"
    assert len(refused) == LIMIT + 2
    assert all(
        re.search(rf"rate limit reached: {LIMIT} read calls per 60 s; retry in \d", m)
        for m in refused
    )
    assert report is not None
    assert report["calls"]["ping"] == LIMIT
    assert report["rate_limited"]["ping"] == LIMIT + 2
