"""FastMCP middleware of the gateway.

* `ErrorTranslationMiddleware`: typed Maratron errors become tool errors with the service's
  message; argument validation failures become one readable line per field saying what is
  wrong; anything else is masked by FastMCP (`mask_error_details=True`).
* `OutputHookMiddleware`: the hook point where per-athlete preferences post-process tool
  outputs (the context service's hooks register into `deps.output_hooks`).
"""

from __future__ import annotations

from typing import Any

import mcp_types as mt
from fastmcp.exceptions import ResourceError, ToolError
from fastmcp.exceptions import ValidationError as FastMCPValidationError
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from fastmcp.tools.base import ToolResult
from maratron_contracts.errors import MaratronError
from pydantic import ValidationError as PydanticValidationError

from maratron_gateway.deps import GatewayDeps
from maratron_gateway.toolkit import describe_validation_error, tool_error


class ErrorTranslationMiddleware(Middleware):
    """Readable argument errors for tools; typed errors of resources keep their message."""

    async def on_call_tool(
        self,
        context: MiddlewareContext[mt.CallToolRequestParams],
        call_next: CallNext[mt.CallToolRequestParams, ToolResult],
    ) -> ToolResult:
        try:
            return await call_next(context)
        except FastMCPValidationError as exc:
            cause = exc.__cause__
            if isinstance(cause, PydanticValidationError):
                raise ToolError(describe_validation_error(context.message.name, cause)) from None
            raise

    async def on_read_resource(
        self,
        context: MiddlewareContext[mt.ReadResourceRequestParams],
        call_next: CallNext[mt.ReadResourceRequestParams, Any],
    ) -> Any:
        try:
            return await call_next(context)
        except ResourceError as exc:  # FastMCP wraps (and masks) what the resource raised
            if isinstance(exc.__cause__, MaratronError):
                raise ResourceError(tool_error(exc.__cause__).args[0]) from None
            raise


UNHOOKED_TOOLS = frozenset({"ping"})
"""Tools whose output is not the athlete's data: no hook runs (ping stays the bare floor)."""


class OutputHookMiddleware(Middleware):
    """Runs `deps.output_hooks` in order on every successful tool result."""

    def __init__(self, deps: GatewayDeps) -> None:
        self._deps = deps

    async def on_call_tool(
        self,
        context: MiddlewareContext[mt.CallToolRequestParams],
        call_next: CallNext[mt.CallToolRequestParams, ToolResult],
    ) -> ToolResult:
        out = await call_next(context)
        hooks = self._deps.output_hooks
        if not hooks or out.is_error or context.message.name in UNHOOKED_TOOLS:
            return out
        actor = self._deps.actor()
        for hook in hooks:
            out = await hook(actor, context.message.name, out)
        return out
