"""MCP resources (JSON, the caller's own data): athlete://me/profile, runs://me/recent,
runs://me/summary/{period}, shoes://me. Same read models as the query tools."""

from __future__ import annotations

import json

from fastmcp import FastMCP
from maratron_contracts.runs import RunPage

from maratron_gateway.deps import GatewayDeps

JSON = "application/json"
RECENT_RUNS = 20


def register(mcp: FastMCP, deps: GatewayDeps) -> None:
    @mcp.resource("athlete://me/profile", mime_type=JSON, name="my_profile")
    async def my_profile() -> str:
        """Your athlete profile."""
        return (await deps.runs.get_profile(deps.actor().subject)).model_dump_json()

    @mcp.resource("runs://me/recent", mime_type=JSON, name="my_recent_runs")
    async def my_recent_runs() -> str:
        """Your last 20 runs, newest first."""
        page: RunPage = await deps.runs.list_runs(deps.actor().subject, limit=RECENT_RUNS)
        return page.model_dump_json()

    @mcp.resource("runs://me/summary/{period}", mime_type=JSON, name="my_summary")
    async def my_summary(period: str) -> str:
        """Your summary for a period: week, month, year or Nd."""
        return (await deps.runs.summary(deps.actor().subject, period)).model_dump_json()

    @mcp.resource("shoes://me", mime_type=JSON, name="my_shoes")
    async def my_shoes() -> str:
        """Your active shoes with distance and wear alerts."""
        shoes = await deps.runs.list_shoes(deps.actor().subject)
        return json.dumps({"shoes": [s.model_dump(mode="json") for s in shoes]})
