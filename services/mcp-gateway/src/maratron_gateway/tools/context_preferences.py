"""Conversational preferences applied to every tool's output (an `OutputHook`).

* `max_results` caps every top-level list of a tool's structured content (runs, shoes,
  sessions, matches, ...); the text rendering then notes how many were shown.
* `detail_level=brief` trims the text rendering to its first line (at most `BRIEF_CHARS`);
  `normal` and `detailed` leave it as the tool wrote it. Structured content is never trimmed
  other than by `max_results`, so clients that read it keep full fidelity.

The preferences are the caller's own (the token subject's), read from the context read model
with one Redis GET per tool call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastmcp.tools.base import ToolResult
from maratron_contracts.context import DetailLevel, PreferencesView
from maratron_contracts.envelope import Actor
from mcp_types import TextContent

from maratron_gateway.deps import OutputHook

BRIEF_CHARS = 200
FIXED_SHAPE_TOOLS = frozenset({"training_load", "get_preferences", "set_preferences"})
"""Tools whose lists are a fixed-shape series (e.g. 12 weekly points), not result lists."""
PAGINATED_TOOLS = frozenset({"list_runs"})
"""Tools paging with their own `limit` and `cursor`: capping a page would silently skip the
items between it and `next_cursor`, and an explicit `limit` is the caller's own choice."""


def _cap_lists(structured: dict[str, Any], limit: int) -> tuple[dict[str, Any], int, int]:
    """(content with top-level lists capped, items shown, items there were) of the largest."""
    capped = dict(structured)
    shown = total = 0
    for key, value in structured.items():
        if isinstance(value, list) and len(value) > limit:
            capped[key] = value[:limit]
            if len(value) > total:
                shown, total = limit, len(value)
    return capped, shown, total


def _brief(text: str) -> str:
    first = text.strip().split("\n", 1)[0]
    return first if len(first) <= BRIEF_CHARS else first[: BRIEF_CHARS - 1].rstrip() + "…"


def apply_preferences(prefs: PreferencesView, tool_name: str, out: ToolResult) -> ToolResult:
    """The tool result as the athlete prefers to see it (pure)."""
    structured = out.structured_content
    note = ""
    if structured is not None and tool_name not in FIXED_SHAPE_TOOLS | PAGINATED_TOOLS:
        structured, shown, total = _cap_lists(structured, prefs.max_results)
        if total:
            note = f"(showing {shown} of {total}: max_results preference {prefs.max_results})"
    brief = prefs.detail_level is DetailLevel.BRIEF
    if not note and not brief:
        return out
    content: list[Any] = []
    for block in out.content:
        if isinstance(block, TextContent):
            text = _brief(block.text) if brief else block.text
            block = block.model_copy(update={"text": f"{text}\n{note}" if note else text})
            note = ""  # once
        content.append(block)
    return ToolResult(content=content, structured_content=structured, meta=out.meta)


def preferences_hook(read: Callable[[str], Awaitable[PreferencesView]]) -> OutputHook:
    """An OutputHook applying the caller's preferences, read with `read(athlete_id)`."""

    async def hook(actor: Actor, tool_name: str, out: ToolResult) -> ToolResult:
        return apply_preferences(await read(actor.subject), tool_name, out)

    return hook
