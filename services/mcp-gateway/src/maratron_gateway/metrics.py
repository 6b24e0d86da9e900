"""Prometheus metrics of the gateway (served on `/metrics` beside `/mcp`)."""

from __future__ import annotations

import time

import mcp_types as mt
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from fastmcp.tools.base import ToolResult
from prometheus_client import Counter, Histogram

TOOL_SECONDS = Histogram(
    "maratron_mcp_tool_seconds",
    "Time to run one MCP tool call inside the gateway (after auth and protocol parsing).",
    ["tool"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
TOOL_CALLS = Counter(
    "maratron_mcp_tool_calls_total",
    "MCP tool calls by outcome (ok or error).",
    ["tool", "outcome"],
)


class MetricsMiddleware(Middleware):
    async def on_call_tool(
        self,
        context: MiddlewareContext[mt.CallToolRequestParams],
        call_next: CallNext[mt.CallToolRequestParams, ToolResult],
    ) -> ToolResult:
        tool = context.message.name
        started = time.perf_counter()
        outcome = "error"
        try:
            out = await call_next(context)
            outcome = "error" if out.is_error else "ok"
            return out
        finally:
            TOOL_SECONDS.labels(tool).observe(time.perf_counter() - started)
            TOOL_CALLS.labels(tool, outcome).inc()
