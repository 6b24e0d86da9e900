"""MCP prompts: conversation starters that tell the assistant which tools to call, in which
order, and how to talk about the results. They carry no athlete data themselves (the tools they
name do, under the caller's own token and scopes), so they need no scope of their own."""

from __future__ import annotations

import datetime as dt

from fastmcp import FastMCP

from maratron_gateway.deps import GatewayDeps


def register(mcp: FastMCP, deps: GatewayDeps) -> None:
    del deps  # prompts read nothing: the tools they name do

    @mcp.prompt(name="weekly_review", title="Weekly training review")
    def weekly_review() -> str:
        """Review this week's training against last week's, with load and shoe alerts."""
        return (
            "Review my running week. First call get_coaching_snapshot. Then call run_summary "
            "with period=week, and again with the `at` date of a day last week, to compare. "
            "Call training_load for the acute:chronic ratio, fitness/fatigue/form and monotony. "
            "Summarise: distance, time and runs versus last week; what went well; any concern "
            "(load jump over 10%, ACWR at or above 1.5, monotony over 2, shoes past 80%); and one "
            "concrete suggestion for next week. Quote the numbers and the formula names the "
            "tools return; say 'not enough data' where they do."
        )

    @mcp.prompt(name="race_plan", title="Race plan")
    def race_plan(race_distance: str, race_date: str) -> str:
        """A plan towards a race: prediction, the weeks left and how to use them."""
        try:
            weeks = max(0, (dt.date.fromisoformat(race_date) - dt.date.today()).days // 7)
            timing = f"The race is on {race_date}, about {weeks} weeks from today."
        except ValueError:
            timing = f"The race date given was {race_date!r}: ask me for it as YYYY-MM-DD."
        return (
            f"Help me prepare for a {race_distance} race. {timing} Call predict_race with "
            f"distance={race_distance!r} and say which efforts the prediction uses. Call "
            "training_load and analyze_patterns to judge my current load and consistency. "
            "Then propose the phases until race day (build, sharpen, taper) with weekly "
            "distance targets that rise by at most 10% a week, and name the key sessions. "
            "Remember the goal with remember(kind='race') once I agree."
        )

    @mcp.prompt(name="shoe_check", title="Shoe check")
    def shoe_check() -> str:
        """Which shoes are worn out, and which to run in next."""
        return (
            "Check my shoes. Call list_shoes (include_retired=false). For each shoe give its "
            "distance, the percentage of its maximum and whether the wear alert is on. Recommend "
            "retiring shoes past their maximum (retire_shoe, only after I confirm) and which "
            "shoe to make the default for easy runs."
        )

    @mcp.prompt(name="injury_check_in", title="Injury check-in")
    def injury_check_in() -> str:
        """A careful check-in about pain or an injury, grounded in recent load."""
        return (
            "I want to talk about pain or an injury. First call search_memory with "
            "query='injury pain' and kind='injury' to recall what I told you before, and "
            "training_load for recent load changes. Ask where it hurts, since when, and how it "
            "changes while running. Do not diagnose: suggest reducing load where the numbers "
            "support it and seeing a professional for anything sharp, swelling or lasting. "
            "Record what I say with remember(kind='injury')."
        )
