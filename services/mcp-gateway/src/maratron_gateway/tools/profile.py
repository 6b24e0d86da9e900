"""Athlete profile tools: register_athlete, get_profile, update_profile, delete_athlete."""

from __future__ import annotations

from typing import Annotated

from fastmcp import FastMCP
from fastmcp.tools.base import ToolResult
from maratron_contracts.runs import (
    DeleteAthlete,
    ErasureReceipt,
    Profile,
    ProfileResult,
    RegisterAthlete,
    Sex,
    UpdateProfile,
)
from maratron_contracts.units import Unit
from pydantic import Field

from maratron_gateway.auth import target_athlete
from maratron_gateway.deps import GatewayDeps
from maratron_gateway.outputs import Registered
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

Name = Annotated[str, Field(min_length=1, max_length=100, description="Display name.")]
Email = Annotated[str, Field(max_length=254, description="Contact e-mail address.")]
TimeZone = Annotated[
    str, Field(description="IANA time zone, e.g. Europe/Paris; defines 'today' and weeks.")
]
UnitArg = Annotated[Unit, Field(description="Preferred distance unit: km or mi.")]
WeekStartArg = Annotated[
    str, Field(description="First day of the week for weekly summaries, e.g. monday or sunday.")
]
BirthYear = Annotated[int, Field(ge=1900, le=2100, description="Year of birth.")]
SexArg = Annotated[Sex, Field(description="female, male or other (used by training formulas).")]
RestingHr = Annotated[int, Field(ge=20, le=150, description="Resting heart rate, bpm.")]
MaxHr = Annotated[int, Field(ge=80, le=250, description="Maximum heart rate, bpm.")]


def render_profile(p: Profile) -> str:
    return (
        f"{p.name} ({p.athlete_id}): unit {p.unit}, time zone {p.timezone}, "
        f"weeks start on {p.week_start}"
    )


def register(mcp: FastMCP, deps: GatewayDeps) -> None:
    @tool(mcp, CREATE, Registered)
    async def register_athlete(
        name: Name,
        email: Email,
        timezone: TimeZone = "UTC",
        unit: UnitArg = "km",
        week_start: WeekStartArg = "monday",
        birth_year: BirthYear | None = None,
        sex: SexArg | None = None,
        resting_hr: RestingHr | None = None,
        max_hr: MaxHr | None = None,
    ) -> ToolResult:
        """Create your athlete profile (your athlete id is your token's subject)."""
        cmd = build(
            RegisterAthlete,
            "register_athlete",
            name=name,
            email=email,
            timezone=timezone,
            unit=unit,
            week_start=week_start,
            birth_year=birth_year,
            sex=sex,
            resting_hr=resting_hr,
            max_hr=max_hr,
        )
        out = ProfileResult.model_validate((await send_command(deps, cmd)).data)
        profile = await deps.runs.get_profile(out.athlete_id)
        return result(
            Registered(athlete_id=out.athlete_id, profile=profile),
            "registered " + render_profile(profile),
        )

    @tool(mcp, READ_ONLY, Profile)
    async def get_profile(
        athlete_id: Annotated[
            str | None, Field(description="Another athlete (admins only); default: you.")
        ] = None,
    ) -> ToolResult:
        """Your athlete profile: name, e-mail, time zone, unit, week start, heart rates."""
        athlete = target_athlete(deps.actor(), athlete_id)
        profile = await deps.runs.get_profile(athlete)
        return result(profile, render_profile(profile))

    @tool(mcp, UPDATE, Profile)
    async def update_profile(
        name: Name | None = None,
        email: Email | None = None,
        timezone: TimeZone | None = None,
        unit: UnitArg | None = None,
        week_start: WeekStartArg | None = None,
        birth_year: BirthYear | None = None,
        sex: SexArg | None = None,
        resting_hr: RestingHr | None = None,
        max_hr: MaxHr | None = None,
    ) -> ToolResult:
        """Change any profile field; fields left out keep their value."""
        cmd = build(
            UpdateProfile,
            "update_profile",
            name=name,
            email=email,
            timezone=timezone,
            unit=unit,
            week_start=week_start,
            birth_year=birth_year,
            sex=sex,
            resting_hr=resting_hr,
            max_hr=max_hr,
        )
        out = ProfileResult.model_validate((await send_command(deps, cmd)).data)
        profile = await deps.runs.get_profile(out.athlete_id)
        return result(profile, "updated " + render_profile(profile))

    @tool(mcp, DELETE, ErasureReceipt)
    async def delete_athlete(
        confirm: Annotated[
            bool, Field(description="Must be true: erasure of personal data cannot be undone.")
        ],
    ) -> ToolResult:
        """Erase your personal data (name, e-mail, run names and notes); counts are kept."""
        cmd = build(DeleteAthlete, "delete_athlete", confirm=confirm)
        receipt = ErasureReceipt.model_validate((await send_command(deps, cmd)).data)
        return result(
            receipt,
            f"personal data of {receipt.athlete_id} erased; kept {receipt.runs_kept} runs and "
            f"{receipt.shoes_kept} shoes without personal fields",
        )
