"""`ping`: a no-op tool, the floor of the MCP benchmark (auth + protocol, nothing behind)."""

from __future__ import annotations

from fastmcp import FastMCP
from fastmcp.tools.base import ToolResult
from pydantic import BaseModel

from maratron_gateway.deps import GatewayDeps
from maratron_gateway.toolkit import READ_ONLY, result, tool


class Pong(BaseModel):
    ok: bool = True
    replica: str


def register(mcp: FastMCP, deps: GatewayDeps) -> None:
    @tool(mcp, READ_ONLY, Pong)
    async def ping() -> ToolResult:
        """Check that the gateway answers (does nothing else)."""
        return result(Pong(replica=deps.settings.replica_id), "pong")
