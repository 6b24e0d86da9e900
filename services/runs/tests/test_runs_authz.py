"""Who may send runs commands for an athlete: pure rules, then through the real service."""

from __future__ import annotations

import datetime as dt

import pytest
from maratron_access.control import AccessControl
from maratron_contracts.access import Grant, GrantScope
from maratron_contracts.envelope import Actor
from maratron_contracts.errors import Forbidden
from maratron_contracts.runs import AddShoe, DeleteAthlete, LogRun, RegisterAthlete
from maratron_runs.authz import GrantLookup, require_self, require_write
from maratron_runs.testing import RunsWorld

NOW = dt.datetime.now(dt.UTC)
DAY = (NOW - dt.timedelta(days=1)).date().isoformat()


def _lookup(scope: GrantScope | None) -> GrantLookup:
    async def grant_for(coach: str, athlete_id: str) -> Grant | None:
        if scope is None:
            return None
        return Grant(athlete_id=athlete_id, coach=coach, scope=scope, granted_at=NOW)

    return grant_for


async def test_rules() -> None:
    me, coach = Actor(subject="a"), Actor(subject="c")
    await require_write(me, "a", _lookup(None))
    await require_write(Actor(subject="ops", roles=("admin",)), "a", _lookup(None))
    await require_write(coach, "a", _lookup(GrantScope.READ_WRITE))
    for scope in (None, GrantScope.READ):
        with pytest.raises(Forbidden, match="grant_access"):
            await require_write(coach, "a", _lookup(scope))
    require_self(me, "a")
    with pytest.raises(Forbidden, match="athlete themself"):
        require_self(coach, "a")


@pytest.mark.integration
async def test_only_the_athlete_admins_and_read_write_coaches_may_write(
    runs_world: RunsWorld,
) -> None:
    w = runs_world
    athlete = await w.new_athlete()
    run = LogRun.model_validate({"date": DAY, "distance": 5, "duration": "25:00"})
    access = AccessControl(w.app.store, w.app.redis, w.app.keys)

    async def as_(subject: str, cmd: LogRun | AddShoe | RegisterAthlete | DeleteAthlete,
                  roles: tuple[str, ...] = ()) -> object:  # fmt: skip
        return await w.client.send("runs", cmd, athlete, Actor(subject=subject, roles=roles))

    before = await w.head()
    with pytest.raises(Forbidden, match="grant_access"):
        await as_("stranger", run)
    with pytest.raises(Forbidden, match="grant_access"):  # same answer for an unknown athlete
        await w.client.send("runs", run, "nobody-at-all", Actor(subject="stranger"))
    await access.grant(athlete, "reader", GrantScope.READ, Actor(subject=athlete))
    with pytest.raises(Forbidden):
        await as_("reader", run)
    assert await w.head() == before + 1  # only the grant's own event

    await access.grant(athlete, "coach", GrantScope.READ_WRITE, Actor(subject=athlete))
    await as_("coach", run)
    await as_("coach", AddShoe.model_validate({"name": "Coach's pick"}))
    await as_("ops", run, roles=("admin",))
    with pytest.raises(Forbidden, match="athlete themself"):
        await as_("coach", DeleteAthlete(confirm=True))
    with pytest.raises(Forbidden, match="athlete themself"):
        await as_("coach", RegisterAthlete.model_validate({"name": "X", "email": "x@y.zz"}))
    assert len((await w.queries.list_runs(athlete)).runs) == 2
