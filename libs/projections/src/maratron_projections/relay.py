"""The relay: committed events from Postgres to JetStream, in order, at least once.

* Publishes every event to `{ns}.evt.{category}.{event_type}` on the stream `{NS}_EVENTS` (which
  captures `{ns}.evt.>` only, never command subjects) with `Nats-Msg-Id = event_id`, so a
  re-publish after a crash is dropped by JetStream's duplicate window; consumers stay idempotent
  anyway (the window is 2 minutes).
* Waits for every PubAck of a batch, then checkpoints the batch's last global position in
  Postgres (`{ns}.checkpoints`, created by the store's migrations) and resumes from there.
* One active relay per namespace: a session-level advisory lock, held on the connection that
  also writes the checkpoint. Other relays stand by and take over when that connection dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import asyncpg
from maratron_contracts.envelope import RecordedEvent
from maratron_contracts.subjects import (
    check_namespace,
    event_subject,
    events_stream_name,
    events_wildcard,
)
from maratron_eventstore import advisory_key
from nats.aio.client import Client as NATS
from nats.js.api import RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

from maratron_projections.tasks import cancel_and_wait

if TYPE_CHECKING:
    from maratron_eventstore import EventStore

log = logging.getLogger(__name__)

RELAY_CHECKPOINT = "relay"
DUPLICATE_WINDOW_S = 120.0


async def ensure_events_stream(
    nats: NATS, namespace: str, *, max_age_s: float | None = 7 * 24 * 3600
) -> None:
    """Create (or reconcile) the JetStream stream that carries committed events.

    `max_age_s` bounds how long events (with personal fields in clear) stay in NATS: Postgres is
    the system of record and the only place crypto-shredding reaches.
    """
    config = StreamConfig(
        name=events_stream_name(namespace),
        subjects=[events_wildcard(namespace)],
        storage=StorageType.FILE,
        retention=RetentionPolicy.LIMITS,
        duplicate_window=DUPLICATE_WINDOW_S,
        max_age=max_age_s,
    )
    js = nats.jetstream()
    try:
        await js.add_stream(config)
    except BadRequestError:  # exists with another configuration
        await js.update_stream(config)


class RelayError(RuntimeError):
    """The relay cannot run (e.g. its NATS connection was closed)."""


class Relay:
    """Relays events from the store to JetStream; `run()` until cancelled."""

    def __init__(
        self,
        store: EventStore,
        nats: NATS,
        namespace: str,
        *,
        batch: int = 500,
        standby_poll_s: float = 1.0,
        ack_timeout_s: float = 10.0,
        max_age_s: float | None = 7 * 24 * 3600,
    ) -> None:
        self.store = store
        self.nats = nats
        self.namespace = check_namespace(namespace)
        self.batch = batch
        self.standby_poll_s = standby_poll_s
        self.ack_timeout_s = ack_timeout_s
        self.max_age_s = max_age_s
        self.stream = events_stream_name(namespace)
        self.active = False
        self.position = 0
        self._lock_key = advisory_key(namespace, "relay")
        self._table = f"{namespace}.checkpoints"

    async def checkpoint(self) -> int:
        """The last global position the relay has published and checkpointed."""
        value = await self.store.pool.fetchval(
            f"SELECT position FROM {self._table} WHERE name = $1", RELAY_CHECKPOINT
        )
        return int(value) if value is not None else 0

    async def run(self) -> None:
        """Stand by until this relay holds the lock, then relay; retry after any failure."""
        await ensure_events_stream(self.nats, self.namespace, max_age_s=self.max_age_s)
        while True:
            if self.nats.is_closed:  # closed for good (not reconnecting): leave the lock alone
                raise RelayError("the relay's NATS connection is closed")
            try:
                async with self.store.pool.acquire() as conn:
                    if await conn.fetchval("SELECT pg_try_advisory_lock($1)", self._lock_key):
                        try:
                            log.info("relay active for namespace %s", self.namespace)
                            self.active = True
                            await self._relay(conn)
                        finally:
                            self.active = False
                            await _unlock(conn, self._lock_key)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("relay failed; standing by before retrying")
            await asyncio.sleep(self.standby_poll_s)

    # -- internals --------------------------------------------------------------------------
    async def _relay(self, conn: asyncpg.Connection[Any]) -> None:
        start = await conn.fetchval(
            f"SELECT position FROM {self._table} WHERE name = $1", RELAY_CHECKPOINT
        )
        self.position = int(start or 0)
        queue: asyncio.Queue[RecordedEvent] = asyncio.Queue(self.batch * 2)
        feeder = asyncio.create_task(self._feed(self.position, queue), name="relay-feed")
        try:
            while True:
                try:
                    async with asyncio.timeout(self.standby_poll_s):
                        first = await queue.get()
                except TimeoutError:  # idle: is the feed alive, do we still hold the lock?
                    if feeder.done():
                        feeder.result()  # raises the feed's error
                        raise RuntimeError("the event feed ended") from None
                    await conn.execute("SELECT 1")
                    continue
                events = [first]
                while len(events) < self.batch and not queue.empty():
                    events.append(queue.get_nowait())
                await self._publish(events)
                self.position = events[-1].global_position
                await conn.execute(
                    f"INSERT INTO {self._table} (name, position) VALUES ($1, $2)"
                    " ON CONFLICT (name) DO UPDATE"
                    " SET position = EXCLUDED.position, updated_at = now()",
                    RELAY_CHECKPOINT,
                    self.position,
                )
        finally:
            await cancel_and_wait(feeder)

    async def _feed(self, after: int, queue: asyncio.Queue[RecordedEvent]) -> None:
        async for event in self.store.subscribe(after, batch=self.batch):
            await queue.put(event)

    async def _publish(self, events: Sequence[RecordedEvent]) -> None:
        """Publish a batch pipelined (one connection keeps the order) and await every PubAck."""
        js = self.nats.jetstream()
        futures = []
        for event in events:
            headers = {
                "Nats-Msg-Id": str(event.event_id),
                "Maratron-Position": str(event.global_position),
                "Maratron-Stream": event.stream_id,
            }
            if event.metadata.traceparent:  # consumers continue the command's trace
                headers["traceparent"] = event.metadata.traceparent
            futures.append(
                await js.publish_async(
                    event_subject(self.namespace, event.category, event.event_type),
                    event.model_dump_json().encode(),
                    stream=self.stream,
                    headers=headers,
                )
            )
        # Not gather(): when its connection closes, nats-py cancels pending acks (or leaves them
        # pending); either must read as a failed publish, not as this task being cancelled.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.ack_timeout_s
        pending: set[asyncio.Future[Any]] = set(futures)
        try:
            while pending:
                if self.nats.is_closed:
                    raise RelayError("publish aborted: the NATS connection closed")
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise RelayError(f"{len(pending)} PubAcks missing after {self.ack_timeout_s} s")
                done, pending = await asyncio.wait(pending, timeout=min(0.25, remaining))
                for future in done:
                    if future.cancelled():
                        raise RelayError("publish aborted: the NATS connection closed")
                    future.result()  # raises a publish error (e.g. wrong stream)
        finally:
            for future in pending:  # frees nats-py's in-flight publish slots
                future.cancel()


async def _unlock(conn: asyncpg.Connection[Any], key: int) -> None:
    """Release the lock if the session still lives; never raises (it runs in `finally`, where
    an exception would replace a cancellation). A dead session has released it already."""
    with contextlib.suppress(Exception):
        if not conn.is_closed():
            await conn.execute("SELECT pg_advisory_unlock($1)", key)
