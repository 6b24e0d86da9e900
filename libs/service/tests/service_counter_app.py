"""A tiny test-only service: one counter stream per id, incremented by commands.

Exercises the whole command loop (dedup, validation, conflicts, ownership, inline projection)
without depending on any real bounded context."""

from __future__ import annotations

import asyncio
from collections import Counter as CallCounter

from maratron_contracts.envelope import RecordedEvent
from maratron_contracts.messages import Command, Event
from maratron_contracts.registry import Registry
from maratron_projections import Keys, Projection
from maratron_service.app import ServiceApp
from maratron_service.commands import CommandBus, CommandContext, Decision
from maratron_service.settings import Settings
from pydantic import Field
from redis.asyncio.client import Pipeline

registry = Registry()


@registry.event
class Incremented(Event):
    category = "counter"
    event_type = "Incremented"
    by: int


class Increment(Command):
    service = "counter"
    name = "increment"
    counter_id: str = Field(pattern=r"^[a-z0-9]{1,20}$")
    by: int = Field(default=1, ge=1, le=100)


class Explode(Command):
    service = "counter"
    name = "explode"


class Slow(Command):
    """Waits for `GATE` before deciding (graceful-shutdown tests)."""

    service = "counter"
    name = "slow"
    counter_id: str


GATE = asyncio.Event()
HANDLER_CALLS: CallCounter[str] = CallCounter()

bus = CommandBus("counter", registry=registry)


def evolve(value: int, event: Event) -> int:
    assert isinstance(event, Incremented)
    return value + event.by


@bus.handler(Increment)
async def increment(ctx: CommandContext, cmd: Increment) -> Decision:
    HANDLER_CALLS[str(ctx.command_id)] += 1
    stream = f"counter:{cmd.counter_id}"
    value, version = await ctx.load(stream, evolve, 0)
    await asyncio.sleep(0.002)  # widen the load->append window so concurrent commands conflict
    return Decision(stream, version, [Incremented(by=cmd.by)], {"value": value + cmd.by})


@bus.handler(Explode)
async def explode(ctx: CommandContext, cmd: Explode) -> Decision:
    raise RuntimeError("password=hunter2 leaked from a driver")


@bus.handler(Slow)
async def slow(ctx: CommandContext, cmd: Slow) -> Decision:
    await GATE.wait()
    stream = f"counter:{cmd.counter_id}"
    value, version = await ctx.load(stream, evolve, 0)
    return Decision(stream, version, [Incremented(by=1)], {"value": value + 1})


class CounterProjection:
    name = "counter.value"
    event_types = frozenset({"Incremented"})

    async def apply(self, event: RecordedEvent, pipe: Pipeline, keys: Keys) -> None:
        pipe.multi()  # type: ignore[no-untyped-call]
        pipe.incrby(keys("counter", event.stream_id), event.data["by"])


PROJECTIONS: list[Projection] = [CounterProjection()]


def build_app(settings: Settings) -> ServiceApp:
    return ServiceApp(settings, bus, PROJECTIONS)
