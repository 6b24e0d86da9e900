"""The idle-session sweeper: records `SessionExpired` for sessions idle past their timeout.

Runs as a background task in every replica. Candidates come from the `active-sessions` sorted
set (score = idle expiry); each expiry is a normal `expire_session` command (system actor) whose
command id is derived from the session and its expiry time, so replicas sweeping the same
session concurrently apply it once, and the decider re-checks idleness against the event log
(a session that saw activity meanwhile is left alone).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from uuid import NAMESPACE_URL, uuid5

from maratron_contracts.context import ExpireSession, SessionView
from maratron_contracts.envelope import Actor
from maratron_contracts.errors import MaratronError
from maratron_service.app import BackgroundTask, ServiceApp

from maratron_context.projections import active_sessions_key, session_key

log = logging.getLogger(__name__)
SWEEPER = Actor.system("context-sweeper")


async def sweep_once(app: ServiceApp, now: datetime, *, batch: int = 200) -> int:
    """Expire every overdue session; returns how many expiry commands were sent."""
    keys, redis, client = app.keys, app.redis, app.client
    assert client is not None
    due: list[tuple[bytes | str, float]] = await redis.zrangebyscore(  # type: ignore[assignment]
        active_sessions_key(keys), "-inf", now.timestamp(), start=0, num=batch, withscores=True
    )
    sent = 0
    for member, score in due:
        session_id = member.decode() if isinstance(member, bytes) else str(member)
        raw = await redis.get(session_key(keys, session_id))
        if raw is None:
            continue
        view = SessionView.model_validate_json(raw)
        command_id = uuid5(NAMESPACE_URL, f"{keys.namespace}/expire/{session_id}/{score}")
        try:
            await client.send(
                "context",
                ExpireSession(session_id=session_id),
                view.athlete_id,
                SWEEPER,
                command_id=command_id,
            )
            sent += 1
        except MaratronError as exc:
            log.warning("could not expire session %s: %s", session_id, exc)
    return sent


def sweeper(interval_s: float, clock: Callable[[], datetime]) -> BackgroundTask:
    """The background task: sweep, wait `interval_s`, repeat (restarted by the app on error)."""

    async def run(app: ServiceApp) -> None:
        while True:
            await sweep_once(app, clock())
            await asyncio.sleep(interval_s)

    return run
