"""Unit tests of the gateway's preference application (pure: no server)."""

from __future__ import annotations

from fastmcp.tools.base import ToolResult
from maratron_contracts.context import PreferencesView
from maratron_gateway.tools.context_preferences import BRIEF_CHARS, apply_preferences


def text(out: ToolResult) -> str:
    return " | ".join(getattr(block, "text", "") for block in out.content)


RUNS = ToolResult(
    content="3 shoes:\n- a\n- b\n- c", structured_content={"shoes": [1, 2, 3], "count": 3}
)


def test_defaults_change_nothing() -> None:
    assert apply_preferences(PreferencesView(), "list_shoes", RUNS) is RUNS


def test_max_results_caps_top_level_lists_and_says_so() -> None:
    out = apply_preferences(PreferencesView(max_results=2), "list_shoes", RUNS)
    assert out.structured_content == {"shoes": [1, 2], "count": 3}
    assert text(out).endswith("(showing 2 of 3: max_results preference 2)")
    assert text(out).startswith("3 shoes:\n- a")
    assert RUNS.structured_content is not None and len(RUNS.structured_content["shoes"]) == 3


def test_brief_keeps_the_first_line_only_and_bounds_it() -> None:
    out = apply_preferences(PreferencesView(detail_level="brief"), "list_shoes", RUNS)
    assert text(out) == "3 shoes:"
    assert out.structured_content == RUNS.structured_content  # data keeps full fidelity
    long = ToolResult(content="x" * 500, structured_content={"a": 1})
    brief = text(apply_preferences(PreferencesView(detail_level="brief"), "get_run", long))
    assert len(brief) == BRIEF_CHARS and brief.endswith("…")


def test_paginated_pages_are_not_capped() -> None:
    page = ToolResult(content="runs", structured_content={"runs": [1, 2, 3], "next_cursor": "c"})
    assert apply_preferences(PreferencesView(max_results=2), "list_runs", page) is page


def test_fixed_shape_series_are_not_capped() -> None:
    load = ToolResult(content="load", structured_content={"weeks": list(range(12))})
    out = apply_preferences(PreferencesView(max_results=3), "training_load", load)
    assert out.structured_content == {"weeks": list(range(12))}
