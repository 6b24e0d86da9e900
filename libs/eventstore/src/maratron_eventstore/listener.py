"""A dedicated LISTEN connection that wakes a subscriber when new events are committed.

Notifications are only a hint: the subscriber re-reads the store after every wake-up and also on
a slow timer, so a dropped connection or a missed notification delays delivery but loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg

log = logging.getLogger(__name__)


class NotifyListener:
    def __init__(self, dsn: str, channel: str) -> None:
        self._dsn = dsn
        self._channel = channel
        self._conn: asyncpg.Connection | None = None
        self.wake = asyncio.Event()

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, _payload: str) -> None:
        self.wake.set()

    def _on_terminate(self, _conn: Any) -> None:
        self.wake.set()  # re-read at once; `ensure` reconnects

    async def ensure(self) -> None:
        """(Re)open the LISTEN connection if needed; on failure the caller keeps polling."""
        if self._conn is not None and not self._conn.is_closed():
            return
        try:
            conn = await asyncpg.connect(
                self._dsn, server_settings={"application_name": f"{self._channel}_listener"}
            )
            await conn.add_listener(self._channel, self._on_notify)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("event store LISTEN connection failed, polling instead: %s", exc)
            return
        conn.add_termination_listener(self._on_terminate)
        self._conn = conn
        self.wake.set()  # anything committed while we were not listening must be read now

    async def wait(self, seconds: float) -> None:
        """Return on a notification or after `seconds` (the fallback poll)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), seconds)

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None or conn.is_closed():
            return
        try:
            await conn.close(timeout=2)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
            conn.terminate()
