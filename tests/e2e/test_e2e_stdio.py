"""Local single-user mode: `python -m maratron_gateway --stdio`, the athlete from
MARATRON_STDIO_SUBJECT (no token), against the session cluster's runs service."""

from __future__ import annotations

import sys
import uuid

import pytest
from fastmcp import Client
from fastmcp.client.transports import StdioTransport

from tests.e2e.cluster import Cluster

pytestmark = pytest.mark.integration


async def test_stdio_gateway_acts_as_the_configured_athlete(cluster: Cluster) -> None:
    subject = f"ath-local-{uuid.uuid4().hex[:8]}"
    env = cluster.env(MARATRON_STDIO_SUBJECT=subject)
    env.pop("MARATRON_JWT_PUBLIC_KEY_FILE")  # no bearer auth in local mode
    transport = StdioTransport(sys.executable, ["-m", "maratron_gateway", "--stdio"], env=env)
    async with Client(transport, timeout=120, init_timeout=240) as client:
        registered = await client.call_tool(
            "register_athlete", {"name": "Local", "email": "local@example.org"}
        )
        assert registered.structured_content is not None
        assert registered.structured_content["athlete_id"] == subject
        await client.call_tool("log_run", {"date": "2026-11-20", "distance": 5, "duration": 1500})
        page = await client.call_tool("list_runs", {})
        assert page.structured_content is not None
        assert [r["distance_m"] for r in page.structured_content["runs"]] == [5000]
