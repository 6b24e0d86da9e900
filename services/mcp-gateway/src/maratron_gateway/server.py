"""Builds the gateway: `build_gateway(settings) -> FastMCP` and the ASGI app.

Stateless HTTP (`stateless_http=True`) serves both MCP protocol eras (2026-07-28 sessionless
and the 2025-11-25 initialize handshake) from any replica: nothing is kept between requests,
so a load balancer may send each request anywhere.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Any

from fastmcp import FastMCP
from fastmcp.server.http import StarletteWithLifespan

from maratron_gateway import catalog, health, prompts, resources
from maratron_gateway.deps import GatewayDeps
from maratron_gateway.input_schemas import ToolInputSchemas
from maratron_gateway.metrics import MetricsMiddleware
from maratron_gateway.middleware import ErrorTranslationMiddleware, OutputHookMiddleware
from maratron_gateway.security import http as security_http
from maratron_gateway.security.middleware import AccessMiddleware, OutputLimitMiddleware
from maratron_gateway.security.verifier import build_auth
from maratron_gateway.settings import GatewaySettings
from maratron_gateway.tools import access, profile, runs, shoes, system

INSTRUCTIONS = (
    "Maratron: the caller's own running log. Identity comes from the access token: every tool "
    "acts on the caller ('me'). Start with register_athlete if get_profile says there is no "
    "profile yet. Distances take a unit (km or mi), durations HH:MM:SS, MM:SS or seconds, dates "
    "are ISO 8601 local dates."
)

CORE_TOOL_MODULES: tuple[ModuleType, ...] = (system, profile, runs, shoes, access)
OPTIONAL_TOOL_MODULES = ("maratron_gateway.tools.context", "maratron_gateway.tools.insights")
MCP_PATH = "/mcp"


def _optional_modules() -> list[ModuleType]:
    """Tool modules of other services' engineers, registered when they exist."""
    found: list[ModuleType] = []
    for name in OPTIONAL_TOOL_MODULES:
        try:
            found.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != name:  # the module exists but one of ITS imports is missing
                raise
    return found


def build_gateway(
    settings: GatewaySettings, *, stdio: bool = False, deps: GatewayDeps | None = None
) -> FastMCP:
    """The FastMCP server with every tool, resource, probe and middleware.

    `stdio=True` builds the local single-user server: no bearer auth, the acting athlete is
    `settings.stdio_subject`. Over HTTP every request must carry a valid JWT.
    """
    if stdio and not settings.stdio_subject:
        raise ValueError("stdio mode needs MARATRON_STDIO_SUBJECT (the local athlete id)")
    deps = deps or GatewayDeps.create(settings, stdio=stdio)
    input_schemas = ToolInputSchemas()

    @asynccontextmanager
    async def lifespan(server: FastMCP[Any]) -> AsyncIterator[dict[str, Any]]:
        await deps.start()
        try:
            await input_schemas.load(server)
            yield {"deps": deps}
        finally:
            await deps.stop()

    mcp: FastMCP[Any] = FastMCP(
        "maratron",
        instructions=INSTRUCTIONS,
        auth=None if stdio else build_auth(settings, lambda: deps.access),
        lifespan=lifespan,
        mask_error_details=True,
        on_duplicate="error",
        middleware=[
            MetricsMiddleware(),
            AccessMiddleware(deps, deps.denials),  # scopes, grants, rate limits, denial audit
            ErrorTranslationMiddleware(),
            OutputLimitMiddleware(settings.max_output_bytes),
            OutputHookMiddleware(deps),
        ],
    )
    for module in (*CORE_TOOL_MODULES, *_optional_modules()):
        module.register(mcp, deps)
    resources.register(mcp, deps)
    catalog.register(mcp, deps)
    prompts.register(mcp, deps)
    health.register(mcp, deps)
    input_schemas.install(mcp)  # no tools/list behind every tools/call (see input_schemas)
    return mcp


def build_app(settings: GatewaySettings) -> StarletteWithLifespan:
    """ASGI app: stateless Streamable HTTP on `/mcp` (plain JSON responses: every call is one
    request and one answer, no SSE framing), plus `/healthz`, `/readyz` and `/metrics`;
    wrapped in the security package's HTTP layer (Host/Origin guard, body limit, audit)."""
    deps = GatewayDeps.create(settings)
    app = build_gateway(settings, deps=deps).http_app(
        path=MCP_PATH,
        stateless_http=True,
        json_response=True,
        middleware=security_http.inner_middleware(MCP_PATH, settings),
    )
    security_http.secure_app(app, settings, deps.denials)
    return app
