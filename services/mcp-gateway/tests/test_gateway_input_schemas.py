"""`ToolInputSchemas`: the SDK's `Mcp-Param-*` header check gets each tool's input schema by
name instead of running `tools/list` before every `tools/call` (no stack needed)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import asynccontextmanager
from enum import StrEnum
from typing import Annotated, Any

import httpx
import mcp_types as mt
from fastmcp import FastMCP
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from fastmcp.tools.base import Tool
from maratron_gateway.input_schemas import ToolInputSchemas
from maratron_gateway.server import build_gateway
from maratron_gateway.settings import GatewaySettings
from mcp_types import CLIENT_CAPABILITIES_META_KEY, PROTOCOL_VERSION_META_KEY
from pydantic import Field

MODERN = "2026-07-28"


class Surface(StrEnum):  # an enum parameter: its schema is a $ref into $defs
    ROAD = "road"
    TRAIL = "trail"


class CountListings(Middleware):
    def __init__(self) -> None:
        self.listings = 0

    async def on_list_tools(
        self,
        context: MiddlewareContext[mt.ListToolsRequest],
        call_next: CallNext[mt.ListToolsRequest, Sequence[Tool]],
    ) -> Sequence[Tool]:
        self.listings += 1
        return await call_next(context)


def _server(counter: CountListings) -> FastMCP[Any]:
    schemas = ToolInputSchemas()

    @asynccontextmanager
    async def lifespan(server: FastMCP[Any]) -> Any:
        await schemas.load(server)
        yield {}

    mcp: FastMCP[Any] = FastMCP("t", lifespan=lifespan, middleware=[counter])

    @mcp.tool
    def route(
        region: Annotated[str, Field(json_schema_extra={"x-mcp-header": "Region"})],
        surface: Surface = Surface.ROAD,
    ) -> str:
        return f"{region}/{surface}"

    schemas.install(mcp)
    return mcp


def _post(method: str, params: dict[str, Any], **headers: str) -> dict[str, Any]:
    meta = {PROTOCOL_VERSION_META_KEY: MODERN, CLIENT_CAPABILITIES_META_KEY: {}}
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": {**params, "_meta": meta}}
    return {
        "content": json.dumps(body),
        "headers": {
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
            "MCP-Protocol-Version": MODERN,
            "Mcp-Method": method,
            **({"Mcp-Name": params["name"]} if "name" in params else {}),
            **headers,
        },
    }


async def test_header_check_uses_the_listed_schema_without_listing_per_call() -> None:
    counter = CountListings()
    app = _server(counter).http_app(path="/mcp", stateless_http=True, json_response=True)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http,
    ):
        assert counter.listings == 1  # the one listing at start-up
        listed = (await http.post("/mcp", **_post("tools/list", {}))).json()
        [tool] = listed["result"]["tools"]
        assert "$ref" not in json.dumps(tool["inputSchema"])  # served dereferenced
        assert counter.listings == 2

        args = {"name": "route", "arguments": {"region": "eu", "surface": "trail"}}
        ok = await http.post("/mcp", **_post("tools/call", args, **{"Mcp-Param-Region": "eu"}))
        assert ok.status_code == 200 and ok.json()["result"]["structuredContent"] == {
            "result": "eu/trail"
        }
        # the check still runs, against the schema as listed: a header that disagrees with
        # the argument, or a missing one, is refused before the tool runs
        for headers in ({"Mcp-Param-Region": "us"}, {}):
            refused = await http.post("/mcp", **_post("tools/call", args, **headers))
            assert refused.status_code == 400, refused.text
            assert "Mcp-Param-Region" in refused.json()["error"]["message"]
        assert counter.listings == 2  # no tools/list behind any of the calls


async def test_the_gateway_installs_it_with_every_tools_listed_schema() -> None:
    settings = GatewaySettings(_env_file=None, namespace="unit", stdio_subject="ath-1")  # type: ignore[call-arg]
    mcp = build_gateway(settings, stdio=True)
    schemas = mcp._mcp_server.get_tool_input_schema
    assert isinstance(schemas, ToolInputSchemas)
    assert schemas("log_run") is None  # not loaded before the lifespan: the check is skipped
    await schemas.load(mcp)
    tools = await mcp.list_tools()  # what tools/list serves (dereferenced by its middleware)
    assert len(tools) > 20
    for tool in tools:
        assert schemas(tool.name) == tool.parameters
        assert "$ref" not in json.dumps(tool.parameters)
    assert schemas("no_such_tool") is None
