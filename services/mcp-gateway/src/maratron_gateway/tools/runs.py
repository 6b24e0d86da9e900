"""Run tools: log_run, update_run, delete_run, get_run, list_runs, run_summary."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastmcp import FastMCP
from fastmcp.tools.base import ToolResult
from maratron_contracts.runs import (
    MAX_LIST_LIMIT,
    DeleteReceipt,
    DeleteRun,
    Environment,
    LogRun,
    Run,
    RunField,
    RunPage,
    RunResult,
    Summary,
    UpdateRun,
    WorkoutType,
)
from maratron_contracts.units import Unit
from pydantic import Field

from maratron_gateway.deps import GatewayDeps
from maratron_gateway.outputs import LoggedRun
from maratron_gateway.toolkit import (
    CREATE,
    DELETE,
    READ_ONLY,
    UPDATE,
    build,
    result,
    send_command,
    tool,
)

RunId = Annotated[str, Field(min_length=1, max_length=64, description="The run's id.")]
Date = Annotated[dt.date, Field(description="Local date of the run, ISO 8601 (YYYY-MM-DD).")]
Distance = Annotated[float, Field(gt=0, le=1000, description="Distance in `unit` (km or mi).")]
Duration = Annotated[
    str | int, Field(description="Moving time: HH:MM:SS, MM:SS or seconds, e.g. '45:10'.")
]
UnitArg = Annotated[Unit, Field(description="Unit of `distance`; default: your profile's unit.")]
StartTime = Annotated[str, Field(description="Local start time, 24-hour HH:MM[:SS].")]
RunName = Annotated[str, Field(min_length=1, max_length=100, description="A title for the run.")]
Notes = Annotated[str, Field(max_length=4000, description="Free-text notes.")]
Elevation = Annotated[int, Field(ge=0, le=20000, description="Elevation gain, metres.")]
AvgHr = Annotated[int, Field(ge=30, le=250, description="Average heart rate, bpm.")]
MaxHr = Annotated[int, Field(ge=30, le=250, description="Maximum heart rate, bpm.")]
ShoeId = Annotated[
    str, Field(max_length=64, description="Shoe worn; default: your default shoe, if any.")
]
Workout = Annotated[WorkoutType, Field(description="easy, long, tempo, interval, race, recovery.")]
Effort = Annotated[int, Field(ge=1, le=10, description="Perceived effort, 1 (easy) to 10.")]
Env = Annotated[Environment, Field(description="road, trail, track or treadmill.")]


def render_run(run: Run) -> str:
    pace = f", {run.pace_per_km}/km ({run.pace_per_mi}/mi)" if run.pace_per_km else ""
    title = f" '{run.name}'" if run.name else ""
    return (
        f"{run.date}{title}: {run.distance_km} km ({run.distance_mi} mi) in {run.duration}"
        f"{pace} [run_id {run.run_id}]"
    )


def render_summary(s: Summary) -> str:
    if s.count == 0:
        return f"{s.period} {s.start}..{s.end}: no runs"
    return (
        f"{s.period} {s.start}..{s.end}: {s.count} runs, {s.distance_km} km "
        f"({s.distance_mi} mi) in {s.moving_time}, average {s.average_pace_per_km}/km, "
        f"longest {s.longest_run_km} km, {s.runs_per_week} runs/week"
    )


def register(mcp: FastMCP, deps: GatewayDeps) -> None:
    @tool(mcp, CREATE, LoggedRun)
    async def log_run(
        date: Date,
        distance: Distance,
        duration: Duration,
        unit: UnitArg | None = None,
        start_time: StartTime | None = None,
        name: RunName | None = None,
        notes: Notes | None = None,
        elevation_gain_m: Elevation | None = None,
        avg_hr: AvgHr | None = None,
        max_hr: MaxHr | None = None,
        shoe_id: ShoeId | None = None,
        workout_type: Workout | None = None,
        perceived_effort: Effort | None = None,
        environment: Env | None = None,
    ) -> ToolResult:
        """Record a run (date is your local date); returns the run with its pace."""
        cmd = build(
            LogRun,
            "log_run",
            date=date,
            distance=distance,
            duration=duration,
            unit=unit,
            start_time=start_time,
            name=name,
            notes=notes,
            elevation_gain_m=elevation_gain_m,
            avg_hr=avg_hr,
            max_hr=max_hr,
            shoe_id=shoe_id,
            workout_type=workout_type,
            perceived_effort=perceived_effort,
            environment=environment,
        )
        out = RunResult.model_validate((await send_command(deps, cmd)).data)
        run = await deps.runs.get_run(deps.actor().subject, out.run_id)
        return result(LoggedRun(run_id=out.run_id, run=run), "logged " + render_run(run))

    @tool(mcp, UPDATE, Run)
    async def update_run(
        run_id: RunId,
        date: Date | None = None,
        distance: Distance | None = None,
        duration: Duration | None = None,
        unit: UnitArg | None = None,
        start_time: StartTime | None = None,
        name: RunName | None = None,
        notes: Notes | None = None,
        elevation_gain_m: Elevation | None = None,
        avg_hr: AvgHr | None = None,
        max_hr: MaxHr | None = None,
        shoe_id: ShoeId | None = None,
        workout_type: Workout | None = None,
        perceived_effort: Effort | None = None,
        environment: Env | None = None,
        clear: Annotated[
            list[RunField] | None,
            Field(description="Optional fields to empty, e.g. ['notes', 'shoe_id']."),
        ] = None,
    ) -> ToolResult:
        """Change fields of one of your runs; fields left out keep their value."""
        cmd = build(
            UpdateRun,
            "update_run",
            run_id=run_id,
            date=date,
            distance=distance,
            duration=duration,
            unit=unit,
            start_time=start_time,
            name=name,
            notes=notes,
            elevation_gain_m=elevation_gain_m,
            avg_hr=avg_hr,
            max_hr=max_hr,
            shoe_id=shoe_id,
            workout_type=workout_type,
            perceived_effort=perceived_effort,
            environment=environment,
            clear=clear,
        )
        out = RunResult.model_validate((await send_command(deps, cmd)).data)
        run = await deps.runs.get_run(deps.actor().subject, out.run_id)
        return result(run, "updated " + render_run(run))

    @tool(mcp, DELETE, DeleteReceipt)
    async def delete_run(run_id: RunId) -> ToolResult:
        """Delete one of your runs (summaries and shoe distance follow)."""
        cmd = build(DeleteRun, "delete_run", run_id=run_id)
        receipt = DeleteReceipt.model_validate((await send_command(deps, cmd)).data)
        return result(receipt, f"deleted run {receipt.run_id}")

    @tool(mcp, READ_ONLY, Run)
    async def get_run(run_id: RunId) -> ToolResult:
        """One of your runs, with distance in km and mi, duration and pace."""
        run = await deps.runs.get_run(deps.actor().subject, run_id)
        return result(run, render_run(run))

    @tool(mcp, READ_ONLY, RunPage)
    async def list_runs(
        since: Annotated[dt.date | None, Field(description="First local date, inclusive.")] = None,
        until: Annotated[dt.date | None, Field(description="Last local date, inclusive.")] = None,
        limit: Annotated[
            int, Field(ge=1, le=MAX_LIST_LIMIT, description="Runs per page (1-100).")
        ] = 10,
        cursor: Annotated[
            str | None, Field(description="`next_cursor` of the previous page.")
        ] = None,
    ) -> ToolResult:
        """Your runs, newest first, a page at a time (follow `next_cursor`)."""
        athlete = deps.actor().subject
        page = await deps.runs.list_runs(athlete, since, until, limit, cursor)
        if not page.runs and cursor is None:
            await deps.runs.get_profile(athlete)  # no runs: say so if there is no profile
        lines = [render_run(r) for r in page.runs] or ["no runs"]
        if page.next_cursor:
            lines.append(f"more: call again with cursor={page.next_cursor}")
        return result(page, "\n".join(lines))

    @tool(mcp, READ_ONLY, Summary)
    async def run_summary(
        period: Annotated[
            str, Field(description="week, month, year, or Nd (N days ending at `at`, 1-3650).")
        ],
        at: Annotated[
            dt.date | None, Field(description="A local date in the period; default: today.")
        ] = None,
    ) -> ToolResult:
        """Count, distance, moving time, pace, elevation, longest run and runs per week."""
        summary = await deps.runs.summary(deps.actor().subject, period, at)
        return result(summary, render_summary(summary))
