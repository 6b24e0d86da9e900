"""Who may send a runs command for an athlete (defence in depth: the gateway checks first, but
the service never trusts the envelope's athlete id on its own).

* the athlete themself, an `admin` or an internal `system` actor: anything;
* a coach with an active `read_write` grant from the athlete: runs and shoes, not the profile's
  existence (register / delete stay the athlete's own acts);
* anyone else: `Forbidden`, raised before any state is loaded, so it reveals nothing about
  whether the athlete exists.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from maratron_contracts.access import Grant, GrantScope
from maratron_contracts.envelope import Actor
from maratron_contracts.errors import Forbidden

GrantLookup = Callable[[str, str], Awaitable[Grant | None]]
"""(coach, athlete_id) -> the active grant, if any."""

OWN_ONLY = "only the athlete themself may do this: use your own token"
NO_GRANT = (
    "you may not change this athlete's data: they can give you access with grant_access "
    "(scope read_write)"
)


def privileged(actor: Actor, athlete_id: str) -> bool:
    """May act for `athlete_id` without a grant lookup (decided from the token alone)."""
    return actor.subject == athlete_id or actor.is_admin or "system" in actor.roles


def require_self(actor: Actor, athlete_id: str) -> None:
    if not privileged(actor, athlete_id):
        raise Forbidden(OWN_ONLY)


async def require_write(actor: Actor, athlete_id: str, grant_for: GrantLookup) -> None:
    if privileged(actor, athlete_id):
        return
    grant = await grant_for(actor.subject, athlete_id)
    if grant is None or grant.scope != GrantScope.READ_WRITE:
        raise Forbidden(NO_GRANT)
