"""Coach grants end to end: a coach reads an athlete's data only while a grant is active
(granted, then revoked, then an expiring grant lapses); reads never become writes; without a
grant the answer is the same as for an athlete that does not exist."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastmcp.exceptions import ToolError
from maratron_access.control import AccessControl

from tests.security.conftest import Connect, eventually

FORBIDDEN = "you may only act on your own data"


async def test_coach_reads_only_while_granted(connect: Connect, access: AccessControl) -> None:
    athlete, coach = f"ath-{uuid.uuid4().hex[:10]}", f"coach-{uuid.uuid4().hex[:10]}"
    stranger = f"ath-{uuid.uuid4().hex[:10]}"  # never registered
    async with connect(athlete) as me, connect(coach) as c:
        await me.call_tool("register_athlete", {"name": "Granting", "email": "g@ex.org"})
        await me.call_tool("log_run", {"date": "2026-11-03", "distance": 8, "duration": "40:00"})

        for who in (athlete, stranger):  # the same refusal whether the athlete exists or not
            with pytest.raises(ToolError, match=FORBIDDEN):
                await c.call_tool("get_profile", {"athlete_id": who})

        grant = await me.call_tool("grant_access", {"coach": coach, "scope": "read"})
        assert grant.structured_content is not None
        assert grant.structured_content["scope"] == "read"
        profile = await c.call_tool("get_profile", {"athlete_id": athlete})
        assert profile.structured_content is not None
        assert profile.structured_content["athlete_id"] == athlete
        load = await c.call_tool("training_load", {"athlete_id": athlete})
        assert load.structured_content is not None
        with pytest.raises(ToolError, match=FORBIDDEN):  # a grant from one athlete only
            await c.call_tool("get_profile", {"athlete_id": stranger})
        with pytest.raises(ToolError, match="only admins"):  # usage stays the athlete's own
            await c.call_tool("usage_report", {"athlete_id": athlete})

        mine = (await me.call_tool("list_grants", {})).structured_content
        theirs = (await c.call_tool("list_grants", {})).structured_content
        assert mine is not None and theirs is not None
        assert [g["coach"] for g in mine["given"]] == [coach]
        assert [g["athlete_id"] for g in theirs["received"]] == [athlete]

        await me.call_tool("revoke_access", {"coach": coach})
        with pytest.raises(ToolError, match=FORBIDDEN):
            await c.call_tool("get_profile", {"athlete_id": athlete})
        with pytest.raises(ToolError, match="no access to revoke"):
            await me.call_tool("revoke_access", {"coach": coach})

        soon = datetime.now(UTC) + timedelta(seconds=1)
        await me.call_tool("grant_access", {"coach": coach, "expires_at": soon.isoformat()})

        async def lapsed() -> bool:
            return await access.grant_for(coach, athlete) is None

        assert await eventually(lapsed, within=15)
        with pytest.raises(ToolError, match=FORBIDDEN):
            await c.call_tool("get_profile", {"athlete_id": athlete})

    async def audited() -> bool:
        reasons = [d.reason.value for d in await access.denials(coach)]
        return reasons.count("forbidden") >= 5

    assert await eventually(audited)


async def test_a_grant_cannot_be_given_to_oneself(connect: Connect) -> None:
    athlete = f"ath-{uuid.uuid4().hex[:10]}"
    async with connect(athlete) as me:
        with pytest.raises(ToolError, match="cannot grant access to yourself"):
            await me.call_tool("grant_access", {"coach": athlete})
        with pytest.raises(ToolError, match="invalid arguments for grant_access: scope"):
            await me.call_tool("grant_access", {"coach": "someone", "scope": "admin"})
