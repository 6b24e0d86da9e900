"""Coach grants for the current call.

`AccessMiddleware` checks, before a tool runs, that a caller passing another athlete's
`athlete_id` holds an active grant from that athlete (any grant for reads, `read_write` for
writes) and records the admitted athlete here; `auth.target_athlete` (synchronous, called by
the tools) then admits exactly that athlete. Outside a checked call nothing is admitted.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from maratron_access.control import AccessControl
from maratron_contracts.access import GrantScope
from maratron_contracts.envelope import Actor

_GRANTED: ContextVar[str | None] = ContextVar("maratron_granted_athlete", default=None)


def granted_athlete() -> str | None:
    """The other athlete the current call may act on (checked against an active grant)."""
    return _GRANTED.get()


@contextmanager
def acting_for(athlete_id: str | None) -> Iterator[None]:
    token = _GRANTED.set(athlete_id)
    try:
        yield
    finally:
        _GRANTED.reset(token)


async def may_act_for(access: AccessControl, actor: Actor, athlete_id: str, *, write: bool) -> bool:
    """Whether `actor` (not the athlete, not an admin) holds a grant fit for this call."""
    grant = await access.grant_for(actor.subject, athlete_id)
    if grant is None:
        return False
    return not write or grant.scope == GrantScope.READ_WRITE
