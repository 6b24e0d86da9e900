"""The command loop's latency shortcuts keep its guarantees (real NATS + Postgres + Redis).

* `prefetch`: the handler's streams are read during the dedup check - a duplicate still never
  reaches the handler, and a conflict retry decides on fresh state;
* `projects_decided_events`: the inline projection uses the appended events, which must equal
  what the store gives back (but for `recorded_at` and `hash`).
"""

from __future__ import annotations

import asyncio
from collections import Counter as CallCounter
from collections.abc import AsyncIterator

import pytest
from maratron_contracts.envelope import Actor, EventMetadata, NewEvent, RecordedEvent
from maratron_contracts.messages import Command, Event
from maratron_contracts.registry import Registry
from maratron_projections import Keys, Projector
from maratron_service.app import ServiceApp
from maratron_service.commands import (
    CommandBus,
    CommandContext,
    Decision,
    _Appended,
    _decided_events,
)
from maratron_service.settings import Settings
from maratron_service.testing import (
    app_in_namespace,
    client_of,
)
from maratron_testing.plugin import StackUrls
from redis.asyncio.client import Pipeline

registry = Registry()
ACTOR = Actor(subject="a1", auth_method="jwt")
CALLS: CallCounter[str] = CallCounter()


@registry.event
class Added(Event):
    category = "sum"
    event_type = "Added"
    by: int


class Add(Command):
    service = "fast"
    name = "add"
    sum_id: str
    by: int = 1


bus = CommandBus("fast", registry=registry)


def _stream(ctx: CommandContext, cmd: Add) -> list[str]:
    return [f"sum:{cmd.sum_id}"]


@bus.handler(Add, prefetch=_stream)
async def add(ctx: CommandContext, cmd: Add) -> Decision:
    CALLS[str(ctx.command_id)] += 1
    stream = f"sum:{cmd.sum_id}"
    value, version = await ctx.load(stream, lambda v, e: v + e.by, 0)  # type: ignore[attr-defined]
    await asyncio.sleep(0.002)  # widen the load->append window so concurrent commands conflict
    return Decision(stream, version, [Added(by=cmd.by)], {"value": value + cmd.by})


class SumProjection:
    name = "fast.sum"
    event_types = frozenset({"Added"})
    projects_decided_events = True

    async def apply(self, event: RecordedEvent, pipe: Pipeline, keys: Keys) -> None:
        pipe.multi()  # type: ignore[no-untyped-call]
        pipe.incrby(keys("sum", event.stream_id), event.data["by"])


class StoredOnlyProjection:
    name = "fast.stored"
    event_types = frozenset({"Added"})

    async def apply(self, event: RecordedEvent, pipe: Pipeline, keys: Keys) -> None:
        pipe.multi()  # type: ignore[no-untyped-call]


def build_app(settings: Settings) -> ServiceApp:
    return ServiceApp(settings, bus, [SumProjection()], registry=registry)


@pytest.fixture
async def fast_app(maratron_stack: StackUrls, namespace: str) -> AsyncIterator[ServiceApp]:
    async with app_in_namespace(
        maratron_stack, build_app, Settings, namespace, service_name="fast"
    ) as app:
        yield app


async def _sum(app: ServiceApp, sum_id: str) -> int:
    raw = await app.redis.get(app.keys("sum", f"sum:{sum_id}"))
    return int(raw) if raw is not None else 0


async def test_prefetched_command_projects_before_the_reply(fast_app: ServiceApp) -> None:
    client = client_of(fast_app)
    first = await client.send("fast", Add(sum_id="s1", by=2), "a1", ACTOR)
    second = await client.send("fast", Add(sum_id="s1", by=3), "a1", ACTOR)
    assert (first.data, second.data) == ({"value": 2}, {"value": 5})
    assert await _sum(fast_app, "s1") == 5  # read-your-writes, from the decided events


async def test_a_prefetched_duplicate_never_reaches_the_handler(fast_app: ServiceApp) -> None:
    client = client_of(fast_app)
    envelope = client.envelope(Add(sum_id="s2", by=4), "a1", ACTOR)
    first = await client.request("fast", envelope)
    second = await client.request("fast", envelope)
    assert first.ok and second == first
    assert CALLS[str(envelope.command_id)] == 1
    assert len(await fast_app.store.read_stream("sum:s2")) == 1
    assert await _sum(fast_app, "s2") == 4


async def test_concurrent_prefetched_commands_on_one_stream_all_apply(
    fast_app: ServiceApp,
) -> None:
    client = client_of(fast_app)
    outcomes = await asyncio.gather(
        *(client.send("fast", Add(sum_id="hot", by=1), "a1", ACTOR) for _ in range(12))
    )
    assert sorted(o.data["value"] for o in outcomes) == list(range(1, 13))
    assert await _sum(fast_app, "hot") == 12


async def test_decided_events_equal_the_stored_ones(fast_app: ServiceApp) -> None:
    metadata = EventMetadata(trace_id="t" * 32)
    events = [NewEvent(event_type="Added", data={"by": n, "note": [1, 2.5]}) for n in (1, 2, 3)]
    first = [NewEvent(event_type="Added", data={"by": 0})]
    await fast_app.store.append("sum:x", "a1", first, expected_version=0, metadata=metadata)
    result = await fast_app.store.append(
        "sum:x", "a1", events, expected_version=1, metadata=metadata
    )
    projector = fast_app.projector
    assert projector is not None
    decided = _decided_events(_Appended(result, "a1", events, metadata), projector)
    stored = (await fast_app.store.read_stream("sum:x"))[1:]
    assert decided is not None and len(decided) == len(stored) == 3
    skip = {"recorded_at", "hash"}
    for mine, theirs in zip(decided, stored, strict=True):
        assert mine.model_dump(exclude=skip) == theirs.model_dump(exclude=skip)

    # A projection that did not opt in gets the stored events (None = read them back).
    mixed = Projector(
        fast_app.redis, fast_app.store, [SumProjection(), StoredOnlyProjection()], fast_app.keys
    )
    assert _decided_events(_Appended(result, "a1", events, metadata), mixed) is None
