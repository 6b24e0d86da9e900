"""Blue/green rebuild of read models from the event store (never from NATS).

`rebuild` projects the whole log into a *staging* key space (`{ns}:rm:build-<id>:`), then swaps
it for the live one in a single MULTI/EXEC (readers see either the old or the new read models,
never a mix), then catches the live key space up with anything appended during the swap.

* Resumable: the staging version is recorded in `{ns}:replay:staging`; an interrupted rebuild
  resumes from the staging checkpoint instead of starting over.
* Point in time: `until=` builds a copy of the read models as they were at a global position
  into its own key space (`{ns}:rm:asof-<position>:`), which is kept and never swapped in.
* Idempotent: the same applied markers as everywhere else, so a live service projecting inline
  during the swap cannot be double-counted.
* Fast: the staging space is private until the swap, so `build` folds the log in memory with
  the unchanged projector and projections (`memory.MemoryRedis`) and writes to Redis in bulk.
* Derived documents (insights `latest`) are not computed here, as before: the insights
  projection marks every athlete it touches dirty, the swap replaces the live documents, and
  the insights service recomputes the dirty athletes' documents.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from maratron_contracts.envelope import RecordedEvent
from maratron_contracts.subjects import redis_prefix
from redis.asyncio import Redis

from maratron_projections.keys import Keys
from maratron_projections.memory import MemoryRedis, argument_encoder, transaction
from maratron_projections.projection import Projection
from maratron_projections.projector import Projector
from maratron_projections.tasks import cancel_and_wait

if TYPE_CHECKING:
    from maratron_eventstore import EventStore

REPLAY_NAME = "replay"
DEFAULT_CHUNK = 50_000
"""Events folded in memory between two writes to Redis (one MULTI/EXEC each)."""
DEFAULT_PAGE = 5_000
"""Events per `read_all` page."""
DEFAULT_MAX_KEYS = 1_500_000
"""Read-model keys kept in memory (about 1.2 KB each with the bench's runs: ~2 GB); above it the
cache is dropped after a flush and keys are read through from Redis again (slower, bounded)."""
Progress = Callable[[int, int, float], None]
"""(position reached, target position, seconds elapsed)."""


@dataclass(frozen=True)
class RebuildResult:
    version: str
    position: int
    events_per_second: float
    seconds: float
    swapped: bool
    resumed: bool


def staging_marker(namespace: str) -> str:
    return f"{redis_prefix(namespace)}replay:staging"


async def _scan(redis: Redis, prefix: str) -> list[bytes]:
    return [k async for k in redis.scan_iter(match=f"{prefix}*", count=5000)]


async def _any_key(redis: Redis, prefix: str) -> bool:
    async for _ in redis.scan_iter(match=f"{prefix}*", count=5000):
        return True
    return False


async def build(
    store: EventStore,
    redis: Redis,
    projections: Sequence[Projection],
    keys: Keys,
    *,
    until: int | None = None,
    chunk: int = DEFAULT_CHUNK,
    page: int = DEFAULT_PAGE,
    max_keys: int = DEFAULT_MAX_KEYS,
    progress: Progress | None = None,
) -> tuple[int, float]:
    """Project the log into `keys` up to `until` (default: head), resumable from its checkpoint.

    The key space is private to the build, so the projector and every projection run unchanged
    against an in-memory, write-behind copy of it (`MemoryRedis`), in log order. About every
    `chunk` events the changes are written to Redis in one MULTI/EXEC together with the
    checkpoint, so an interrupted build resumes from a checkpoint that matches what is in Redis
    (re-read events are then skipped by their applied markers). A fresh build into an empty
    key space never reads Redis; a resumed one reads each key through the first time it is
    touched. The next page of the log is fetched while the current one is folded.

    Returns (position reached, events per second over this run)."""
    checkpoint_key = keys.checkpoint(REPLAY_NAME)
    raw = await redis.get(checkpoint_key)
    position = start = int(raw) if raw is not None else 0
    complete = raw is None and not await _any_key(redis, keys.prefix)
    fold = MemoryRedis(redis, complete=complete, max_keys=max_keys)
    projector = Projector(cast(Redis, fold), store, projections, keys, name=REPLAY_NAME)
    head = await store.head()
    target = head if until is None else min(until, head)
    limit = max(1, min(page, chunk))

    def read(after: int) -> asyncio.Task[list[RecordedEvent]]:
        return asyncio.create_task(
            store.read_all(after, limit=limit, until=target, event_types=projector.event_types)
        )

    began = time.monotonic()
    folded = 0
    ahead = read(position) if position < target else None
    try:
        while ahead is not None:
            events = await ahead
            ahead = None
            if not events:
                break
            last = events[-1].global_position
            if last < target:
                ahead = read(last)
                await asyncio.sleep(0)  # let the next query go out before folding this page
            await projector.apply_in_log_order(events)
            position = last
            folded += len(events)
            if folded >= chunk:
                await fold.flush(checkpoint=(checkpoint_key, position))
                folded = 0
                if progress is not None:
                    progress(position, target, time.monotonic() - began)
    finally:
        if ahead is not None:
            await cancel_and_wait(ahead)
    # Nothing relevant left: the rest of the log up to the target is covered too.
    position = max(position, target)
    await fold.flush(checkpoint=(checkpoint_key, position))
    if progress is not None:
        progress(position, target, time.monotonic() - began)
    elapsed = max(time.monotonic() - began, 1e-9)
    return position, (position - start) / elapsed


async def swap(redis: Redis, staging: Keys, live: Keys, *, replace_all: bool = True) -> int:
    """Atomically replace every live read-model key by its staging counterpart.

    Service checkpoints that existed in the live space are kept, lowered to the staging
    position, so each service's catch-up re-checks (idempotently) what came after. With
    `replace_all=False` (a rebuild of some projections only) live keys without a staging
    counterpart are kept: the other projections' read models stay in place."""
    staged = await _scan(redis, staging.prefix)
    current = await _scan(redis, live.prefix)
    position = int(await redis.get(staging.checkpoint(REPLAY_NAME)) or 0)
    checkpoint_prefix = live.checkpoint("").encode()
    live_prefix, cut = live.prefix.encode(), len(staging.prefix)
    commands: list[tuple[Any, ...]] = []
    if current and replace_all:
        commands += [("DEL", *current[i : i + 1000]) for i in range(0, len(current), 1000)]
    commands += [("RENAME", key, live_prefix + key[cut:]) for key in staged]
    commands += [("SET", key, position) for key in current if key.startswith(checkpoint_prefix)]
    if commands:  # one MULTI/EXEC, packed without redis-py's per-argument cost
        await transaction(redis, commands, argument_encoder(redis))
    return len(staged)


async def rebuild(
    store: EventStore,
    redis: Redis,
    projections: Sequence[Projection],
    namespace: str,
    *,
    until: int | None = None,
    progress: Progress | None = None,
    replace_all: bool = True,
    chunk: int = DEFAULT_CHUNK,
) -> RebuildResult:
    """Rebuild read models from the log (blue/green), or a point-in-time copy.

    `replace_all` says that `projections` are all the read models of the namespace."""
    began = time.monotonic()
    if until is not None:
        target = await store.head() if until <= 0 else until
        keys = Keys(namespace, f"asof-{target}")
        position, rate = await build(
            store, redis, projections, keys, until=target, progress=progress, chunk=chunk
        )
        return RebuildResult(keys.version, position, rate, time.monotonic() - began, False, False)

    marker = staging_marker(namespace)
    existing = await redis.get(marker)
    resumed = existing is not None
    if isinstance(existing, bytes):
        version = existing.decode()
    else:
        version = existing or f"build-{secrets.token_hex(4)}"
    if not resumed:
        await redis.set(marker, version)
    staging = Keys(namespace, version)
    position, rate = await build(store, redis, projections, staging, progress=progress, chunk=chunk)
    live = Keys(namespace)
    await swap(redis, staging, live, replace_all=replace_all)
    await redis.delete(marker)
    # Events appended while staging was built or swapped: catch the live space up.
    position = await Projector(
        redis, store, projections, live, name=REPLAY_NAME, batch=2000
    ).catch_up()
    return RebuildResult(
        version, position, rate, time.monotonic() - began, swapped=True, resumed=resumed
    )


async def point_in_time_keys(
    store: EventStore,
    redis: Redis,
    projections: Sequence[Projection],
    namespace: str,
    position: int,
) -> Keys:
    """The key space of the read models as of `position`, built on first use."""
    keys = Keys(namespace, f"asof-{position}")
    await build(store, redis, projections, keys, until=position)
    return keys
