"""Access tools (gateway-only, no service behind them): coach grants and the usage report.

`grant_access` lets a coach (another subject) read - or, with `read_write`, also change - the
caller's data by passing the caller's id as `athlete_id`; `revoke_access` ends it at once on
every replica. `usage_report` shows calls per tool, refusals and the rate limits.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated

from fastmcp import FastMCP
from fastmcp.tools.base import ToolResult
from maratron_contracts.access import Denial, DenialReason, Grant, GrantList, GrantScope
from maratron_contracts.errors import Forbidden
from pydantic import BaseModel, Field

from maratron_gateway.deps import GatewayDeps
from maratron_gateway.ratelimit import Tier
from maratron_gateway.toolkit import CREATE, DELETE, READ_ONLY, result, tool

Subject = Annotated[
    str,
    Field(min_length=1, max_length=200, description="The coach's subject (their login id)."),
]
RECENT_DENIALS = 50


class RevokeReceipt(BaseModel):
    athlete_id: str
    coach: str
    revoked: bool = True


class TierLimit(BaseModel):
    tier: Tier
    calls: int = Field(description="Calls admitted per window, across all gateway replicas.")
    window_seconds: float


class UsageReport(BaseModel):
    principal: str
    calls: dict[str, int] = Field(description="Calls admitted per tool (last 35 days).")
    rate_limited: dict[str, int] = Field(description="Calls refused by a rate limit, per tool.")
    denials_by_reason: dict[DenialReason, int] = Field(
        description="Recent refused calls by reason (since `since` when given)."
    )
    recent_denials: list[Denial] = Field(description="Newest first.")
    limits: list[TierLimit]


def render_grant(g: Grant) -> str:
    until = f" until {g.expires_at.isoformat()}" if g.expires_at else ""
    verb = "read and change" if g.scope == GrantScope.READ_WRITE else "read"
    return f"{g.coach} may {verb} the data of {g.athlete_id}{until}"


def register(mcp: FastMCP, deps: GatewayDeps) -> None:
    @tool(mcp, CREATE, Grant)
    async def grant_access(
        coach: Subject,
        scope: Annotated[
            GrantScope, Field(description="read, or read_write to also log and change runs.")
        ] = GrantScope.READ,
        expires_at: Annotated[
            datetime | None,
            Field(description="When the access ends (ISO 8601); none = until revoked."),
        ] = None,
    ) -> ToolResult:
        """Let a coach see your data (scope read) or also change it (read_write). They pass
        your athlete id as athlete_id; revoke_access ends it."""
        actor = deps.actor()
        if expires_at is not None and expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)
        grant = await deps.access.grant(actor.subject, coach, scope, actor, expires_at)
        return result(grant, render_grant(grant))

    @tool(mcp, DELETE, RevokeReceipt)
    async def revoke_access(coach: Subject) -> ToolResult:
        """End a coach's access to your data (at once, on every replica)."""
        actor = deps.actor()
        await deps.access.revoke(actor.subject, coach, actor)
        receipt = RevokeReceipt(athlete_id=actor.subject, coach=coach)
        return result(receipt, f"{coach} no longer has access to your data")

    @tool(mcp, READ_ONLY, GrantList)
    async def list_grants() -> ToolResult:
        """Active grants: coaches you gave access to, and athletes who gave you theirs."""
        grants = await deps.access.list_grants(deps.actor().subject)
        lines = [render_grant(g) for g in (*grants.given, *grants.received)]
        return result(grants, "\n".join(lines) or "no active grants")

    @tool(mcp, READ_ONLY, UsageReport)
    async def usage_report(
        since: Annotated[
            date | None, Field(description="Only refusals from this date on (ISO 8601).")
        ] = None,
        athlete_id: Annotated[
            str | None, Field(description="Another principal's report (admins only).")
        ] = None,
    ) -> ToolResult:
        """Your calls per tool, refused calls (and why) and the rate limits that apply."""
        actor = deps.actor()
        principal = athlete_id or actor.subject
        if principal != actor.subject and not actor.is_admin:
            raise Forbidden("only admins may see another principal's usage: omit athlete_id")
        calls, rate_limited = await deps.limiter.usage(principal)
        denials = await deps.access.denials(principal)
        if since is not None:
            start = datetime.combine(since, time.min, tzinfo=UTC)
            denials = [d for d in denials if d.at >= start]
        by_reason: dict[DenialReason, int] = {}
        for d in denials:
            by_reason[d.reason] = by_reason.get(d.reason, 0) + 1
        limits = [
            TierLimit(tier=t, calls=lim.calls, window_seconds=lim.window_seconds)
            for t in Tier
            for lim in [deps.limiter.limit_for(t)]
        ]
        report = UsageReport(
            principal=principal,
            calls=calls,
            rate_limited=rate_limited,
            denials_by_reason=by_reason,
            recent_denials=denials[:RECENT_DENIALS],
            limits=limits,
        )
        total = sum(calls.values())
        return result(report, f"{principal}: {total} calls, {len(denials)} refused")
