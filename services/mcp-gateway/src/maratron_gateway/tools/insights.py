"""Insights tools (training_load, analyze_patterns, predict_race, get_motivational_context,
get_coaching_snapshot) and the `insights://me/latest` resource.

All are reads: `maratron_insights.queries.InsightsQueries` over the Redis read models the
insights service keeps (no NATS on the path). Insights follow new runs asynchronously, within
about a second of the run being logged.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from fastmcp import FastMCP
from fastmcp.tools.base import ToolResult
from maratron_context.queries import ContextQueries
from maratron_contracts.context import agent_of
from maratron_contracts.insights import (
    CoachingSnapshot,
    Metric,
    MetricStatus,
    MotivationalContext,
    Patterns,
    Predictions,
    TrainingLoad,
)
from maratron_contracts.units import METRES_PER_UNIT, InvalidValue, Unit, format_duration
from maratron_insights.queries import InsightsQueries
from pydantic import Field

from maratron_gateway.auth import target_athlete
from maratron_gateway.deps import GatewayDeps
from maratron_gateway.toolkit import READ_ONLY, result, tool

JSON = "application/json"
RACES = {
    "5k": 5000.0,
    "10k": 10000.0,
    "half": 21097.5,
    "half_marathon": 21097.5,
    "marathon": 42195.0,
}
_DISTANCE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(km|k|mi|m)?\s*$", re.IGNORECASE)

AthleteArg = Annotated[
    str | None, Field(description="Another athlete (admins only); default: you.")
]


def parse_race_distance(text: str, unit: Unit) -> tuple[float, str]:
    """`5k`, `10k`, `half`, `marathon`, or a number with an optional unit (`15`, `15 km`,
    `10mi`, `3000 m`); a bare number is in `unit`."""
    key = text.strip().lower().replace(" ", "_").replace("-", "_")
    if key in RACES:
        return RACES[key], key
    match = _DISTANCE_RE.match(text)
    if match is None:
        raise InvalidValue(
            f"distance {text!r} is not understood: use 5k, 10k, half, marathon or a number "
            "with an optional unit, e.g. '15 km', '10 mi' or '3000 m'"
        )
    value, suffix = float(match.group(1)), (match.group(2) or unit).lower()
    metres = value if suffix == "m" else value * METRES_PER_UNIT["km" if suffix == "k" else suffix]
    return metres, f"{value:g} {suffix}"


def _metric(m: Metric, digits: int = 2) -> str:
    if m.status is not MetricStatus.OK or m.value is None:
        return f"{m.name}: not enough data ({m.missing})"
    band = f" - {m.band}" if m.band else ""
    return f"{m.name}: {m.value:.{digits}f}{band}"


def render_load(tl: TrainingLoad) -> str:
    weeks = ", ".join(f"{w.distance_m / 1000:.0f}" for w in tl.weekly_trend)
    lines = [
        f"training load as of {tl.at} (weeks start {tl.week_start}); km per week: {weeks}",
        _metric(tl.week_over_week),
        _metric(tl.acwr_rolling),
        _metric(tl.acwr_ewma),
        f"{_metric(tl.ctl, 1)}; {_metric(tl.atl, 1)}; {_metric(tl.tsb, 1)}",
        f"{_metric(tl.monotony)}; {_metric(tl.strain, 0)}",
    ]
    return "\n".join(lines)


def render_patterns(p: Patterns) -> str:
    if not p.insights:
        return f"no notable patterns in the last {p.window_days} days ({p.runs_in_window} runs)"
    return "\n".join(
        f"[{i.category.value}] {i.text}" + (f" -> {i.recommendation}" if i.recommendation else "")
        for i in p.insights
    )


def render_predictions(p: Predictions) -> str:
    if p.status is not MetricStatus.OK:
        return f"no prediction: not enough data ({p.missing})"
    lines = [f"from {p.effort_basis}; best VDOT {p.vdot:.1f}"]
    lines += [f"{r.label}: Riegel {r.riegel.time}, VDOT {r.vdot.time}" for r in p.predictions]
    e = p.efforts[0]
    lines.append(
        f"effort used: {e.distance_m / 1000:.2f} km in {format_duration(round(e.duration_s))} "
        f"on {e.date} ({e.kind})"
    )
    return "\n".join(lines)


def render_motivation(m: MotivationalContext) -> str:
    points = "; ".join(p.text for p in m.talking_points) or "no talking points yet"
    return f"tone {m.tone}, focus: {m.focus}. {points}"


def render_snapshot(s: CoachingSnapshot) -> str:
    parts = [f"snapshot of {s.athlete_id} on {s.at}: {len(s.last_runs)} recent runs"]
    if s.weeks.this_week is not None and s.weeks.last_week is not None:
        parts.append(
            f"this week {s.weeks.this_week.distance_m / 1000:.1f} km vs last week "
            f"{s.weeks.last_week.distance_m / 1000:.1f} km"
        )
    if s.open_concerns:
        parts.append("concerns: " + "; ".join(c.text for c in s.open_concerns))
    if s.shoe_alerts:
        parts.append("shoe alerts: " + ", ".join(str(a["name"]) for a in s.shoe_alerts))
    if s.goals:
        parts.append("goals: " + "; ".join(str(g["text"])[:80] for g in s.goals))
    parts += s.notes
    return "\n".join(parts)


def register(mcp: FastMCP, deps: GatewayDeps) -> None:
    cached: list[InsightsQueries] = []

    def queries() -> InsightsQueries:
        """One InsightsQueries per Redis connection (it holds registered scripts)."""
        if not cached or cached[0].redis is not deps.redis:
            cached[:] = [
                InsightsQueries(
                    deps.redis,
                    deps.keys,
                    runs=deps.runs,
                    context=ContextQueries(deps.redis, deps.keys),
                )
            ]
        return cached[0]

    def athlete(athlete_id: str | None) -> str:
        return target_athlete(deps.actor(), athlete_id)

    @tool(mcp, READ_ONLY, TrainingLoad)
    async def training_load(
        at: Annotated[
            dt.date | None,
            Field(description="Local date to compute for (ISO 8601); default: today."),
        ] = None,
        athlete_id: AthleteArg = None,
    ) -> ToolResult:
        """Weekly distance trend (12 weeks), acute:chronic workload ratio (rolling and EWMA),
        fitness/fatigue/form (CTL/ATL/TSB), monotony and strain: each with its formula, window,
        data coverage and band, or 'not enough data' and what is missing."""
        tl = await queries().training_load(athlete(athlete_id), at)
        return result(tl, render_load(tl))

    @tool(mcp, READ_ONLY, Patterns)
    async def analyze_patterns(
        window_days: Annotated[
            int, Field(ge=7, le=3650, description="Days to analyse, ending today.")
        ] = 90,
        athlete_id: AthleteArg = None,
    ) -> ToolResult:
        """Achievements, patterns and concerns in your training, each with evidence, a
        confidence (0-1) and a recommendation."""
        found = await queries().patterns(athlete(athlete_id), window_days)
        return result(found, render_patterns(found))

    @tool(mcp, READ_ONLY, Predictions)
    async def predict_race(
        distance: Annotated[
            str,
            Field(
                min_length=1,
                max_length=32,
                description="5k, 10k, half, marathon, or a distance such as '15 km' or '10 mi'.",
            ),
        ],
        unit: Annotated[
            Unit | None, Field(description="Unit of a bare number; default: your profile's.")
        ] = None,
        athlete_id: AthleteArg = None,
    ) -> ToolResult:
        """Race time predictions (Riegel and Daniels VDOT) from your best recent efforts, with
        the efforts used."""
        who = athlete(athlete_id)
        if unit is None:
            profile = await deps.runs.find_profile(who)
            unit = profile.unit if profile is not None else "km"
        metres, label = parse_race_distance(distance, unit)
        found = await queries().predict_race(who, metres, label)
        return result(found, render_predictions(found))

    @tool(mcp, READ_ONLY, MotivationalContext)
    async def get_motivational_context(athlete_id: AthleteArg = None) -> ToolResult:
        """The tone and focus to coach with right now, and talking points with evidence."""
        mood = await queries().motivational_context(athlete(athlete_id))
        return result(mood, render_motivation(mood))

    @tool(mcp, READ_ONLY, CoachingSnapshot)
    async def get_coaching_snapshot(athlete_id: AthleteArg = None) -> ToolResult:
        """Call this first: profile, preferences, last runs, this week vs last, training load,
        shoe alerts, goals and open concerns in one call."""
        actor = deps.actor()
        snap = await queries().coaching_snapshot(
            athlete(athlete_id), agent=agent_of(None, actor.client_id)
        )
        return result(snap, render_snapshot(snap))

    @mcp.resource("insights://me/latest", mime_type=JSON, name="my_latest_insights")
    async def my_latest_insights() -> str:
        """Your latest insights: training load, patterns, predictions, motivational context."""
        return (await queries().latest(deps.actor().subject)).model_dump_json()
