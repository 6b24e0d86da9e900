"""The `Projection` protocol: one read model fed by a set of event types."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from maratron_contracts.envelope import RecordedEvent
from redis.asyncio.client import Pipeline

from maratron_projections.keys import Keys


@runtime_checkable
class Projection(Protocol):
    """Turns events into Redis writes.

    `apply` receives a pipeline in immediate mode: the runner has already WATCHed this
    projection's per-stream applied marker. The handler may `await pipe.watch(key)` and read
    (`await pipe.hget(...)`), then calls `pipe.multi()` and queues its writes (the runner calls
    `multi()` if the handler did not). The runner adds its marker/checkpoint writes and EXECs;
    on a WatchError it calls `apply` again, so `apply` must not have side effects outside `pipe`.
    """

    name: str
    event_types: frozenset[str]

    async def apply(self, event: RecordedEvent, pipe: Pipeline, keys: Keys) -> None: ...
