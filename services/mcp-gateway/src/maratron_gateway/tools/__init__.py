"""MCP tools of the gateway: one module per tool group, each exposing `register(mcp, deps)`.

Modules: `system` (ping), `profile`, `runs`, `shoes` (runs service); `context` and `insights`
are written by their services' engineers and registered by `server.build_gateway` when present
(`OPTIONAL_TOOL_MODULES`).

The pattern (copy it for a new group)::

    # maratron_gateway/tools/context.py
    from typing import Annotated
    from fastmcp import FastMCP
    from pydantic import Field
    from maratron_contracts.context import StartSession, SessionInfo   # never redefine messages
    from maratron_gateway.deps import GatewayDeps
    from maratron_gateway.toolkit import CREATE, READ_ONLY, result, schema, send_command

    def register(mcp: FastMCP, deps: GatewayDeps) -> None:
        @mcp.tool(annotations=CREATE, output_schema=schema(SessionInfo))
        async def start_session(
            title: Annotated[str | None, Field(description="...", max_length=200)] = None,
        ) -> ToolResult:
            '''Start a conversation session (first line = the tool description).'''
            outcome = await send_command(deps, StartSession(title=title))  # acts as the caller
            info = SessionInfo.model_validate(outcome.data)
            return result(info, f"session {info.session_id} started")

Rules:
* Identity: `deps.actor()` is the caller (token subject). NEVER take the caller's id as a
  parameter; tools that may act for someone else take `athlete_id: str | None = None` and pass
  it through `auth.target_athlete(actor, athlete_id)` (admin only for now).
* Writes: `send_command(deps, CommandModel(...), athlete_id=...)` (retries with the same
  command_id, bounded deadline; typed errors become ToolErrors with the service's message,
  Unavailable becomes "the <service> service is unavailable, retry in a few seconds").
  The service projects before replying, so a read right after a write sees it.
* Reads: query Redis read models directly, e.g. `deps.runs` (RunsQueries), or build your own
  query object from `deps.redis` and `deps.keys` (cheap; do it per call or cache it lazily).
  One or two Redis round trips per call; no NATS on the read path.
* Output: `output_schema=schema(Model)` and `return result(model, short_text)`;
  annotations from `toolkit` (READ_ONLY / CREATE / UPDATE / DELETE).
* Errors: raise a `maratron_contracts.errors` error (ValidationFailed, NotFound, ...) or a
  fastmcp ToolError with a message saying what was wrong and how to fix it; anything else is
  masked. Argument validation errors are rewritten to name the field.
* Per-athlete output post-processing (preferences): append an `OutputHook`
  (`async (actor, tool_name, ToolResult) -> ToolResult`) to `deps.output_hooks` inside your
  `register`; `middleware.OutputHookMiddleware` applies the hooks to every tool result.
* Resources go in `maratron_gateway.resources` style modules the same way (`register`).
"""

from __future__ import annotations
