"""The projection runner: events -> Redis read models, idempotent and checkpointed.

Idempotency rests on a per-projection, per-stream *applied marker* (the last stream version the
projection applied, see `Keys.applied`). An event applies only when every earlier event of its
stream that the projection handles has been applied; an older one is skipped; a gap makes the
runner load the missing events of that stream from the store first. The marker is WATCHed and
written in the same MULTI/EXEC as the projection's own writes, so the inline projection (before a
command replies) and the catch-up projector (behind, possibly on another replica) race safely.

The catch-up checkpoint (global position, `Keys.checkpoint`) belongs to the projector (one set of
projections); it only ever moves forward (a tiny Lua "max" script, queued in the same MULTI).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from maratron_contracts.envelope import RecordedEvent
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.commands.core import AsyncScript
from redis.exceptions import WatchError

from maratron_projections.keys import Keys
from maratron_projections.projection import Projection
from maratron_projections.tasks import cancel_and_wait

if TYPE_CHECKING:
    from maratron_eventstore import EventStore

log = logging.getLogger(__name__)

# SET key to ARGV[1] unless it already holds a larger number.
SET_MAX_SCRIPT = """
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local new = tonumber(ARGV[1])
if new > cur then redis.call('SET', KEYS[1], ARGV[1]) return new end
return cur
"""

# The catch-up's fast path: when every marker in KEYS[1..n-1] already holds ARGV[1] (the event's
# stream version) or more, every projection concerned has applied the event: move the checkpoint
# KEYS[n] up to ARGV[2] (never down) and return 1. Otherwise change nothing and return 0.
ALREADY_APPLIED_SCRIPT = """
local version = tonumber(ARGV[1])
for i = 1, #KEYS - 1 do
  if tonumber(redis.call('GET', KEYS[i]) or '0') < version then return 0 end
end
local cur = tonumber(redis.call('GET', KEYS[#KEYS]) or '0')
if tonumber(ARGV[2]) > cur then redis.call('SET', KEYS[#KEYS], ARGV[2]) end
return 1
"""

_MAX_WATCH_RETRIES = 100


class ProjectionError(RuntimeError):
    """A projection could not be applied (e.g. endless WATCH contention)."""


class Projector:
    """Runs a set of projections: inline (`apply`), catch-up (`catch_up`) and follow (`run`).

    `name` identifies the set's checkpoint; it defaults to the sorted projection names, so two
    services projecting different sets never share (or fight over) a checkpoint.
    """

    def __init__(
        self,
        redis: Redis,
        store: EventStore,
        projections: Sequence[Projection],
        keys: Keys,
        *,
        name: str | None = None,
        batch: int = 500,
    ) -> None:
        names = [p.name for p in projections]
        if len(set(names)) != len(names):
            raise ValueError(f"projection names must be unique, got {names}")
        self.redis = redis
        self.store = store
        self.projections = tuple(projections)
        self.keys = keys
        self.name = name or ",".join(sorted(names)) or "none"
        self.batch = batch
        self.event_types: frozenset[str] = frozenset().union(*(p.event_types for p in projections))
        self._by_type: dict[str, tuple[Projection, ...]] = {
            t: tuple(p for p in self.projections if t in p.event_types) for t in self.event_types
        }
        self._checkpoint_key = keys.checkpoint(self.name)
        self._sentinel_key = keys("running", self.name)
        self._set_max = redis.register_script(SET_MAX_SCRIPT)
        self._already_applied: AsyncScript | None = None  # registered on first catch-up use

    # -- public API -------------------------------------------------------------------------
    async def apply(self, events: Sequence[RecordedEvent]) -> None:
        """Project freshly appended events now (read-your-writes); safe to repeat or race."""
        for event in events:
            for projection in self._by_type.get(event.event_type, ()):
                await self._project(projection, event, floor=event.stream_version - 1)

    async def apply_in_log_order(self, events: Sequence[RecordedEvent]) -> None:
        """Project events read with `read_all` in log order, starting from a position this
        key space is complete up to (a rebuild from its checkpoint).

        Every earlier event of a stream that a projection handles was then either covered by
        the checkpoint or passed here before, so there is no gap to look for in the store: the
        marker alone decides (applied once, skipped when already applied). The checkpoint is
        the caller's to move (`advance`), once the whole batch is written."""
        by_type = self._by_type
        for event in events:
            for projection in by_type.get(event.event_type, ()):
                await self._project(projection, event, floor=0)

    async def checkpoint(self) -> int:
        """The global position catch-up has processed up to."""
        raw = await self.redis.get(self._checkpoint_key)
        return int(raw) if raw is not None else 0

    async def catch_up(self, *, until: int | None = None) -> int:
        """Project everything from the checkpoint to the store's head (or `until`).

        Returns the checkpoint reached. Positions past the last relevant event are covered too:
        the store's reads are gap-free, so nothing at or below the head can still appear.
        """
        return await self._catch_up(await self.checkpoint(), until)

    async def _catch_up(self, position: int, until: int | None) -> int:
        head = await self.store.head()
        target = head if until is None else min(until, head)
        if not self.projections:
            await self._advance(target)
            return int(max(position, target))
        while position < target:
            events = await self.store.read_all(
                position, limit=self.batch, until=target, event_types=self.event_types
            )
            if not events:
                break
            for event in events:
                await self._project_all(event, checkpoint=event.global_position)
            position = events[-1].global_position
        if target > position:
            await self._advance(target)
            position = target
        return position

    async def run(self, *, flush_check_s: float = 5.0) -> None:
        """Catch up, then follow the store's notifications until cancelled.

        Redis is disposable: when the read models vanish (a flush), the projector notices within
        `flush_check_s` (its sentinel key is gone) and rebuilds everything from position 0.
        """
        start: int | None = None  # from the checkpoint; 0 after a flush
        while True:
            await self.redis.set(self._sentinel_key, 1)
            position = await (self.catch_up() if start is None else self._catch_up(start, None))
            follow = asyncio.create_task(self._follow(position), name=f"follow-{self.name}")
            try:
                while not follow.done():
                    await asyncio.wait([follow], timeout=flush_check_s)
                    if not follow.done() and not await self.redis.exists(self._sentinel_key):
                        log.warning("read models of %s vanished: rebuilding", self.name)
                        start = 0
                        break
                if follow.done():
                    follow.result()  # re-raise its failure
                    return
            finally:
                await cancel_and_wait(follow)

    async def _follow(self, position: int) -> None:
        async for event in self.store.subscribe(position, batch=self.batch):
            if event.event_type in self._by_type:
                await self._project_all(event, checkpoint=event.global_position)
            else:
                await self._advance(event.global_position)

    # -- internals --------------------------------------------------------------------------
    async def advance(self, position: int) -> None:
        """Move the catch-up checkpoint forward to `position` (never backward). For callers
        that applied everything up to `position` themselves (a partitioned rebuild)."""
        await self._advance(position)

    async def _advance(self, position: int) -> None:
        await self._set_max(keys=[self._checkpoint_key], args=[position])

    async def _project_all(self, event: RecordedEvent, *, checkpoint: int) -> None:
        handlers = self._by_type.get(event.event_type, ())
        if handlers and await self._applied_by_all(event, handlers, checkpoint):
            return
        for i, projection in enumerate(handlers):
            last = i == len(handlers) - 1
            await self._project(
                projection,
                event,
                floor=event.stream_version - 1,
                checkpoint=checkpoint if last else None,
            )

    async def _applied_by_all(
        self, event: RecordedEvent, handlers: Sequence[Projection], checkpoint: int
    ) -> bool:
        """One round trip for the common catch-up case, an event every projection already
        applied inline: check all their markers and move the checkpoint in one script (the
        per-projection path takes a WATCH, a GET and an UNWATCH each, then the checkpoint)."""
        if self._already_applied is None:
            self._already_applied = self.redis.register_script(ALREADY_APPLIED_SCRIPT)
        markers = [self.keys.applied(p.name, event.stream_id) for p in handlers]
        done = await self._already_applied(
            keys=[*markers, self._checkpoint_key], args=[event.stream_version, checkpoint]
        )
        return bool(done)

    async def _project(
        self,
        projection: Projection,
        event: RecordedEvent,
        *,
        floor: int,
        checkpoint: int | None = None,
    ) -> None:
        """Apply `event` once `projection` has applied every relevant event before it.

        `floor`: no event of the stream between `floor` and `event` concerns this projection, so
        a marker >= floor means `event` is next.
        """
        while True:
            marker = await self._try_apply(projection, event, floor, checkpoint)
            if marker is None:
                return
            # Gap: load the stream's missing events and apply the relevant ones first.
            missing = await self.store.read_stream(event.stream_id, from_version=marker + 1)
            floor = marker
            for earlier in missing:
                if earlier.stream_version >= event.stream_version:
                    break
                if earlier.event_type in projection.event_types:
                    await self._project(projection, earlier, floor=floor)
                    floor = earlier.stream_version
            log.debug(
                "projection %s filled a gap in %s up to v%d",
                projection.name,
                event.stream_id,
                event.stream_version,
            )

    async def _try_apply(
        self, projection: Projection, event: RecordedEvent, floor: int, checkpoint: int | None
    ) -> int | None:
        """One optimistic attempt. Returns None when done (applied or skipped), else the marker
        found below `floor` (a gap)."""
        marker_key = self.keys.applied(projection.name, event.stream_id)
        pipe: Pipeline
        async with self.redis.pipeline(transaction=True) as pipe:
            for _ in range(_MAX_WATCH_RETRIES):
                try:
                    await pipe.watch(marker_key)
                    raw = await pipe.get(marker_key)
                    marker = int(raw) if raw is not None else 0
                    if event.stream_version <= marker:
                        await pipe.reset()  # type: ignore[no-untyped-call]
                        if checkpoint is not None:
                            await self._advance(checkpoint)
                        return None
                    if marker < floor:
                        await pipe.reset()  # type: ignore[no-untyped-call]
                        return marker
                    await projection.apply(event, pipe, self.keys)
                    if not pipe.explicit_transaction:
                        pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.set(marker_key, event.stream_version)
                    if checkpoint is not None:
                        pipe.eval(SET_MAX_SCRIPT, 1, self._checkpoint_key, checkpoint)
                    await pipe.execute()
                    return None
                except WatchError:
                    await pipe.reset()  # type: ignore[no-untyped-call]
                    continue
        raise ProjectionError(
            f"projection {projection.name} could not apply {event.stream_id}"
            f"@{event.stream_version}: the read model kept changing under it"
        )
