"""Helpers every tool module uses: annotations, results, commands and error translation.

Keep tool modules thin: parse arguments, call `send_command` or a query object, return
`result(model, text)`.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar
from uuid import uuid4

from fastmcp import FastMCP
from fastmcp.exceptions import ToolError
from fastmcp.tools.base import ToolResult
from maratron_contracts.envelope import Actor, Outcome
from maratron_contracts.errors import MaratronError, Unavailable
from maratron_contracts.messages import Command
from mcp_types import ToolAnnotations
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from maratron_gateway.deps import GatewayDeps

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True)
"""A query: changes nothing."""
CREATE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False)
"""Adds something new (a second call adds another)."""
UPDATE = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True)
"""Overwrites fields: repeating the same call changes nothing more."""
DELETE = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True)
"""Removes or retires something."""

M = TypeVar("M", bound=BaseModel)
P = ParamSpec("P")

UNAVAILABLE_MESSAGE = "the {service} service is unavailable, retry in a few seconds"


_COMBINATORS = frozenset({"anyOf", "oneOf", "allOf", "not", "$ref", "const"})


def _nullable(node: dict[str, Any]) -> dict[str, Any] | None:
    """`{anyOf: [{type: T, ...}, {type: null}]}` as the equivalent `{type: [T, null], ...}`.

    Type-specific keywords (format, items, properties, bounds) ignore a null instance, so the
    merge accepts exactly the same documents; an enum gains null. Validators walk a type list
    far faster than an anyOf, and MCP clients validate every result against this schema.
    """
    branches = node.get("anyOf")
    if not isinstance(branches, list) or len(branches) != 2 or {"type": "null"} not in branches:
        return None
    [other] = [b for b in branches if b != {"type": "null"}]
    if not isinstance(other.get("type"), str) or _COMBINATORS & other.keys():
        return None
    merged: dict[str, Any] = {k: v for k, v in node.items() if k != "anyOf"} | other
    merged["type"] = [other["type"], "null"]
    if "enum" in merged:
        merged["enum"] = [*merged["enum"], None]
    return merged


def _simplify(node: Any) -> Any:
    if isinstance(node, list):
        return [_simplify(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {k: _simplify(v) for k, v in node.items()}
    return _nullable(node) or node


def schema(model: type[BaseModel]) -> dict[str, Any]:
    """Output schema of a tool returning `model` as structured content (optional fields as
    `type: [T, "null"]`, cheap for clients to validate)."""
    simplified: dict[str, Any] = _simplify(model.model_json_schema(mode="serialization"))
    return simplified


def result(model: BaseModel, text: str) -> ToolResult:
    """Structured content (the model) plus a short human-readable rendering."""
    return ToolResult(content=text, structured_content=model.model_dump(mode="json"))


def tool(
    mcp: FastMCP, annotations: ToolAnnotations, output: type[BaseModel]
) -> Callable[[Callable[P, Awaitable[ToolResult]]], Callable[P, Awaitable[ToolResult]]]:
    """Register an async tool returning `result(output_model, text)`.

    Typed Maratron errors raised by the body become ToolErrors carrying the service's message
    (logged by FastMCP as expected errors, without a traceback).
    """

    def decorate(fn: Callable[P, Awaitable[ToolResult]]) -> Callable[P, Awaitable[ToolResult]]:
        @functools.wraps(fn)
        async def run(*args: P.args, **kwargs: P.kwargs) -> ToolResult:
            try:
                return await fn(*args, **kwargs)
            except MaratronError as exc:
                raise tool_error(exc) from None

        mcp.tool(annotations=annotations, output_schema=schema(output))(run)
        return run

    return decorate


def tool_error(exc: MaratronError, *, service: str | None = None) -> ToolError:
    """The MCP tool error for a typed Maratron error: the service's own message, or for
    Unavailable a fixed one naming the service (from the error's details when not given)."""
    if isinstance(exc, Unavailable):
        name = service or exc.details.get("service")
        return ToolError(UNAVAILABLE_MESSAGE.format(service=name or "Maratron"))
    return ToolError(exc.message)


async def send_command(
    deps: GatewayDeps,
    command: Command,
    *,
    athlete_id: str | None = None,
    actor: Actor | None = None,
) -> Outcome:
    """Send one command for the current actor (acting on `athlete_id`, default: themself).

    Retries, idempotency and the deadline are the CommandClient's; a typed service error
    becomes a ToolError carrying the service's message.
    """
    actor = actor or deps.actor()
    try:
        return await deps.commands.send(
            command.service,
            command,
            athlete_id=athlete_id or actor.subject,
            actor=actor,
            correlation_id=uuid4(),
        )
    except MaratronError as exc:
        raise tool_error(exc, service=command.service) from exc


def describe_validation_error(tool: str, error: PydanticValidationError) -> str:
    """`invalid arguments for log_run: distance: Input should be greater than 0 (got -3)`."""
    parts: list[str] = []
    for item in error.errors(include_url=False):
        loc = ".".join(str(p) for p in item.get("loc", ()) if p != "call")
        msg = str(item.get("msg", "invalid value")).removeprefix("Value error, ")
        kind = item.get("type")
        if kind == "missing":
            parts.append(f"{loc}: required, add it")
        elif kind == "unexpected_keyword_argument":
            parts.append(f"{loc}: not a parameter of {tool}, remove it")
        elif not loc:  # a whole-model check (e.g. avg_hr above max_hr): its message says it all
            parts.append(msg)
        else:
            got = item.get("input")
            shown = f" (got {got!r})" if isinstance(got, str | int | float) else ""
            parts.append(f"{loc}: {msg}{shown}")
    return f"invalid arguments for {tool}: " + "; ".join(parts)


def build(model: type[M], tool: str, /, **fields: Any) -> M:
    """Validate a command (or other model) from tool arguments, dropping those left as None.

    A failure becomes a ToolError naming each bad field, so nothing is sent.
    """
    given = {k: v for k, v in fields.items() if v is not None}
    try:
        return model.model_validate(given)
    except PydanticValidationError as exc:
        raise ToolError(describe_validation_error(tool, exc)) from None


def parse(tool: str, field: str, parser: Any, value: Any) -> Any:
    """Run a `maratron_contracts.units` parser on one argument; its error names the field."""
    try:
        return parser(value)
    except MaratronError as exc:
        raise ToolError(f"invalid arguments for {tool}: {field}: {exc.message}") from None
