"""Tool input schemas by name, for the MCP SDK's `Mcp-Param-*` header check (SEP-2243).

On the 2026-07-28 Streamable HTTP path the SDK checks, before dispatching a `tools/call` that
has arguments, that the request's `Mcp-Param-*` headers agree with the arguments the called
tool's input schema annotates with `x-mcp-header`. It gets that schema from the low-level
server's `get_tool_input_schema` when set, otherwise by running the whole `tools/list` handler
(python-sdk issue #3565). FastMCP 4.1.2 does not set it, so every call with arguments listed
every tool through the middleware chain, whose `DereferenceRefsMiddleware` inlines the `$defs`
of every tool's schemas: about 20 ms of CPU per call, more than everything else the call does.

`ToolInputSchemas` is that lookup: the input schemas exactly as `tools/list` serves them (the
same `list_tools` pipeline: providers, enabled filter, middleware, highest version per name),
taken once when the gateway starts (`load`, from the lifespan). The gateway registers every
tool in `build_gateway`, before it starts, so the listing cannot change afterwards. That
listing has no caller: a tool hidden by per-component auth (none of ours is; access is the
security middleware's) would get None, and the SDK would skip the check for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastmcp import FastMCP
from fastmcp.utilities.versions import dedupe_with_versions


class ToolInputSchemas:
    """`name -> inputSchema` of the listed tools; None for an unknown tool or before `load`
    (the SDK then skips the header check, as it does when a listing finds no such tool)."""

    def __init__(self) -> None:
        self._by_name: dict[str, dict[str, Any]] = {}

    async def load(self, mcp: FastMCP[Any]) -> None:
        tools = dedupe_with_versions(list(await mcp.list_tools()), lambda t: t.name)
        self._by_name = {t.name: t.to_mcp_tool(name=t.name).input_schema for t in tools}

    def __call__(self, name: str) -> Mapping[str, Any] | None:
        return self._by_name.get(name)

    def install(self, mcp: FastMCP[Any]) -> None:
        """Make this the low-level server's lookup (FastMCP exposes no setter for it)."""
        mcp._mcp_server.get_tool_input_schema = self
