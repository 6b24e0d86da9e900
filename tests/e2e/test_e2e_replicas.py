"""Stateless replicas: alternate calls between two gateway processes; concurrent writes on one
shoe from many clients sum exactly."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

import pytest
from fastmcp import Client

from tests.e2e.cluster import Cluster
from tests.e2e.conftest import Connect

pytestmark = pytest.mark.integration


async def data(client: Client[Any], tool: str, **args: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    assert result.structured_content is not None
    return result.structured_content


async def test_calls_alternate_between_replicas_and_reads_see_the_other_replicas_writes(
    cluster: Cluster, connect: Connect, athlete_id: str, era: str
) -> None:
    assert len(cluster.gateway_urls) == 2
    first, second = cluster.gateway_urls
    async with connect(first, athlete_id, era) as a, connect(second, athlete_id, era) as b:
        await data(a, "register_athlete", name="Cy", email="cy@example.org")
        assert (await data(b, "get_profile"))["athlete_id"] == athlete_id
        logged: list[str] = []
        for i in range(10):
            writer, reader = (a, b) if i % 2 == 0 else (b, a)
            run = await data(writer, "log_run", date=f"2026-11-{i + 1:02d}", distance=5 + i,
                             duration=f"{25 + 5 * i}:00")  # fmt: skip
            logged.append(run["run_id"])
            page = await data(reader, "list_runs", limit=100)
            assert [r["run_id"] for r in page["runs"]] == logged[::-1]  # read-your-writes
            summary = await data(reader, "run_summary", period="month", at="2026-11-30")
            assert summary["count"] == i + 1


async def test_fifty_concurrent_runs_on_one_shoe_sum_exactly(
    cluster: Cluster, connect: Connect, athlete_id: str
) -> None:
    clients, per_client = 5, 10
    async with AsyncExitStack() as stack:
        sessions = [
            await stack.enter_async_context(
                connect(cluster.gateway_urls[i % 2], athlete_id, "modern" if i % 2 else "legacy")
            )
            for i in range(clients)
        ]
        await data(sessions[0], "register_athlete", name="Di", email="di@example.org")
        shoe = await data(sessions[0], "add_shoe", name="Clifton", initial_distance=12.5)
        shoe_id = shoe["shoe_id"]

        def metres(c: int, k: int) -> int:
            return 3000 + 137 * c + 11 * k  # distinct, exact in metres

        async def log(c: int, k: int) -> None:
            await data(
                sessions[c],
                "log_run",
                date=f"2026-10-{k + 1:02d}",
                distance=metres(c, k) / 1000,
                duration=1200 + k,
                shoe_id=shoe_id,
            )

        await asyncio.gather(*(log(c, k) for c in range(clients) for k in range(per_client)))

        [after] = (await data(sessions[1], "list_shoes"))["shoes"]
        expected = sum(metres(c, k) for c in range(clients) for k in range(per_client))
        assert after["run_count"] == clients * per_client
        assert after["run_distance_m"] == expected
        assert after["distance_m"] == expected + 12_500
        page = await data(sessions[2], "list_runs", limit=100)
        assert len(page["runs"]) == clients * per_client
