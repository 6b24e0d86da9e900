"""Service runtime benchmark: command round trip through the whole loop, concurrent command
throughput, projector catch-up and relay throughput.

    uv run python bench/bench_service.py        (or via bench/run_all.py)

A tiny counter service (one stream per counter) runs in this process; the command goes client
(nats-py request) -> FastStream subscriber -> load -> decide -> Postgres append with dedup ->
inline Redis projection -> reply. Everything lives in a fresh namespace, dropped afterwards.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from maratron_contracts.envelope import Actor, EventMetadata, NewEvent, RecordedEvent
from maratron_contracts.messages import Command, Event
from maratron_contracts.registry import Registry
from maratron_devstack.stack import StackUrls, new_namespace
from maratron_projections import Keys, Projector, Relay
from maratron_projections.tasks import cancel_and_wait
from maratron_service.app import ServiceApp
from maratron_service.commands import CommandBus, CommandContext, Decision
from maratron_service.settings import Settings
from maratron_service.testing import client_of, drop_namespace, running_app, settings_for
from redis.asyncio.client import Pipeline

SEQUENTIAL = 1_000
CONCURRENT = 2_000
CONCURRENCY = 32
PROJECT_EVENTS = 10_000
RELAY_EVENTS = 10_000
ACTOR = Actor(subject="a1")

registry = Registry()


@registry.event
class Bumped(Event):
    category = "counter"
    event_type = "Bumped"
    by: int


class Bump(Command):
    service = "bench"
    name = "bump"
    counter_id: str
    by: int = 1


bus = CommandBus("bench", registry=registry)


@bus.handler(Bump)
async def bump(ctx: CommandContext, cmd: Bump) -> Decision:
    stream = f"counter:{cmd.counter_id}"
    value, version = await ctx.load(stream, lambda v, e: v + e.by, 0)  # type: ignore[attr-defined]
    return Decision(stream, version, [Bumped(by=cmd.by)], {"value": value + cmd.by})


class CounterProjection:
    name = "bench.counter"
    event_types = frozenset({"Bumped"})

    async def apply(self, event: RecordedEvent, pipe: Pipeline, keys: Keys) -> None:
        pipe.multi()  # type: ignore[no-untyped-call]
        pipe.incrby(keys("counter", event.stream_id), event.data["by"])


def build_app(settings: Settings) -> ServiceApp:
    return ServiceApp(settings, bus, [CounterProjection()], relay=False)


def _ms(samples: list[float], q: float) -> float:
    samples = sorted(samples)
    return round(samples[min(len(samples) - 1, int(len(samples) * q))] * 1000, 3)


async def _round_trips(app: ServiceApp) -> list[float]:
    client = client_of(app)
    for i in range(100):  # warm-up
        await client.send("bench", Bump(counter_id=f"w{i}"), "a1", ACTOR)
    samples = []
    for i in range(SEQUENTIAL):
        started = time.perf_counter()
        await client.send("bench", Bump(counter_id=f"s{i}"), "a1", ACTOR)
        samples.append(time.perf_counter() - started)
    return samples


async def _raw_floor(app: ServiceApp) -> list[float]:
    """Raw nats-py request-reply to an echo subscriber, same process: the transport floor."""
    subject = f"{app.settings.namespace}.bench.echo"

    async def echo(msg: Any) -> None:
        await msg.respond(msg.data)

    sub = await app.nats.subscribe(subject, cb=echo)
    samples = []
    try:
        for _ in range(SEQUENTIAL):
            started = time.perf_counter()
            await app.nats.request(subject, b"{}", timeout=2)
            samples.append(time.perf_counter() - started)
    finally:
        await sub.unsubscribe()
    return samples


async def _throughput(app: ServiceApp) -> float:
    client = client_of(app)
    queue = iter(range(CONCURRENT))

    async def worker() -> None:
        for i in queue:
            await client.send("bench", Bump(counter_id=f"t{i}"), "a1", ACTOR)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return CONCURRENT / (time.perf_counter() - started)


async def _fill(app: ServiceApp, count: int, tag: str) -> None:
    for start in range(0, count, 100):
        await app.store.append(
            f"counter:{tag}{start}", "a1",
            [NewEvent(event_type="Bumped", data={"by": 1}) for _ in range(min(100, count - start))],
            expected_version=0, metadata=EventMetadata(),
        )  # fmt: skip


async def _catch_up_rate(app: ServiceApp) -> tuple[int, float]:
    projector = Projector(
        app.redis, app.store, [CounterProjection()], Keys(app.settings.namespace, "replay")
    )
    started = time.perf_counter()
    await projector.catch_up()
    events = len(await app.store.read_all(0, limit=1_000_000))
    return events, events / (time.perf_counter() - started)


async def _relay_rate(app: ServiceApp) -> tuple[int, float]:
    relay = Relay(app.store, app.nats, app.settings.namespace)
    head = await app.store.head()
    started = time.perf_counter()
    task = asyncio.create_task(relay.run())
    try:
        while await relay.checkpoint() < head:  # noqa: ASYNC110 (polled: no event to await)
            await asyncio.sleep(0.005)
    finally:
        await cancel_and_wait(task)
    return head, head / (time.perf_counter() - started)


async def main(stack: StackUrls, namespace: str | None = None) -> list[dict[str, Any]]:
    namespace = namespace or new_namespace("bench")
    settings = settings_for(stack, Settings, namespace, service_name="bench")
    try:
        async with running_app(build_app, settings) as app:
            trips = await _round_trips(app)
            floor = await _raw_floor(app)
            rate = await _throughput(app)
        # Catch-up and relay on their own (no service projecting the same events meanwhile).
        quiet = build_app(settings)
        quiet.projections = ()
        await quiet.start()
        try:
            await _fill(quiet, PROJECT_EVENTS, "p")
            projected, project_rate = await _catch_up_rate(quiet)
            relayed, relay_rate = await _relay_rate(quiet)
        finally:
            await quiet.stop()
    finally:
        await drop_namespace(stack, namespace)
    return [
        {"benchmark": "command round trip, append + inline projection (p50)",
         "value": _ms(trips, 0.5), "unit": "ms", "n": SEQUENTIAL},
        {"benchmark": "command round trip, append + inline projection (p99)",
         "value": _ms(trips, 0.99), "unit": "ms", "n": SEQUENTIAL},
        {"benchmark": "raw nats-py request-reply floor, same process (p50)",
         "value": _ms(floor, 0.5), "unit": "ms", "n": SEQUENTIAL},
        {"benchmark": f"command throughput, {CONCURRENCY} concurrent clients, 1 replica",
         "value": round(rate), "unit": "cmd/s", "n": CONCURRENT},
        {"benchmark": "projector catch-up (1 projection, 1 MULTI/EXEC per event)",
         "value": round(project_rate), "unit": "events/s", "n": projected},
        {"benchmark": "relay Postgres -> JetStream (PubAck awaited per batch)",
         "value": round(relay_rate), "unit": "events/s", "n": relayed},
        {"benchmark": "load average, 1 min (after the run; the machine is shared)",
         "value": round(os.getloadavg()[0], 2), "unit": "", "n": os.cpu_count()},
    ]  # fmt: skip


if __name__ == "__main__":
    urls = StackUrls(
        nats_url=os.environ.get("NATS_URL", "nats://127.0.0.1:4222"),
        database_url=os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
        redis_url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        namespace=new_namespace("bench"),
    )
    rows = asyncio.run(main(urls))
    width = max(len(r["benchmark"]) for r in rows)
    for r in rows:
        print(f"{r['benchmark']:<{width}}  {r['value']:>10}  {r['unit']:<9}  {r['n']}")
    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
