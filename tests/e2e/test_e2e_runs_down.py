"""The runs service down: write tools say "unavailable" within the command deadline, reads keep
working from Redis, and writes work again once the service is back."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError
from maratron_service.testing import drop_namespace
from maratron_testing.plugin import StackUrls

from tests.e2e.cluster import Cluster

pytestmark = pytest.mark.integration

COMMAND_DEADLINE_S = 2.0
HANG_GUARD_S = COMMAND_DEADLINE_S + 30  # a liveness guard, not a speed assertion


@pytest.fixture
async def own_cluster(maratron_stack: StackUrls, namespace: str) -> AsyncIterator[Cluster]:
    """A cluster of its own (fresh namespace): this test stops its runs service."""
    with tempfile.TemporaryDirectory(prefix="maratron-e2e-down-") as folder:
        running = Cluster(
            nats_url=maratron_stack.nats_url,
            database_url=maratron_stack.database_url,
            redis_url=maratron_stack.redis_url,
            namespace=namespace,
            folder=Path(folder),
            extra_env={"MARATRON_COMMAND_TIMEOUT_S": str(COMMAND_DEADLINE_S)},
        )
        try:
            yield running.start(services=("runs",), gateways=1)
        finally:
            running.stop()
            await drop_namespace(maratron_stack, namespace)


async def test_runs_service_down_then_back(own_cluster: Cluster) -> None:
    url = own_cluster.gateway_urls[0]
    async with Client(url, auth=own_cluster.token("ath-down"), timeout=60) as client:
        await client.call_tool("register_athlete", {"name": "Ed", "email": "ed@example.org"})
        run = {"date": "2026-11-20", "distance": 10, "duration": "50:00"}
        await client.call_tool("log_run", run)

        own_cluster.stop_process("runs-1")
        with pytest.raises(ToolError) as info:
            await asyncio.wait_for(client.call_tool("log_run", run), HANG_GUARD_S)
        assert str(info.value) == "the runs service is unavailable, retry in a few seconds"

        page = await client.call_tool("list_runs", {})  # reads come from Redis
        assert page.structured_content is not None
        assert len(page.structured_content["runs"]) == 1

        own_cluster.restart_process("runs-1")
        await client.call_tool("log_run", {**run, "date": "2026-11-21"})
        page = await client.call_tool("list_runs", {})
        assert page.structured_content is not None
        dates = [r["date"] for r in page.structured_content["runs"]]
        assert dates == ["2026-11-21", "2026-11-20"]  # the refused call was never applied
