"""Relay: Postgres -> JetStream, in order, every event once, across kills and takeovers
(real Postgres + NATS JetStream)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from uuid import UUID

import nats
from maratron_contracts.envelope import EventMetadata, NewEvent, RecordedEvent
from maratron_contracts.subjects import events_stream_name, events_wildcard
from maratron_eventstore import EventStore, advisory_key
from maratron_projections import Relay, RelayError, ensure_events_stream
from maratron_projections.tasks import cancel_and_wait
from nats.aio.client import Client as NATS
from nats.js.api import AckPolicy, ConsumerConfig

from .conftest import World


async def append_many(store: EventStore, count: int, *, prefix: str = "s") -> None:
    for i in range(count):
        await store.append(
            f"{prefix}:{i % 7}",
            "a1",
            [NewEvent(event_type="Ticked", data={"i": i})],
            expected_version=None,
            metadata=EventMetadata(),
        )


async def wait_until(
    condition: Callable[[], Awaitable[bool]], what: str, limit_s: float = 15
) -> None:
    deadline = time.monotonic() + limit_s
    while not await condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


class Collector:
    """A durable pull consumer over the whole events stream; keeps every delivery."""

    def __init__(self, nc: NATS, namespace: str) -> None:
        self.nc = nc
        self.namespace = namespace
        self.received: list[RecordedEvent] = []
        self.msg_ids: list[str] = []

    async def start(self) -> None:
        await ensure_events_stream(self.nc, self.namespace)
        self.sub = await self.nc.jetstream().pull_subscribe(
            events_wildcard(self.namespace),
            durable="collector",
            stream=events_stream_name(self.namespace),
            config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT),
        )

    async def fetch(self) -> None:
        with contextlib.suppress(TimeoutError, nats.errors.TimeoutError):
            for msg in await self.sub.fetch(200, timeout=0.2):
                self.received.append(RecordedEvent.model_validate_json(msg.data))
                self.msg_ids.append((msg.headers or {})["Nats-Msg-Id"])
                await msg.ack()

    async def until(self, count: int) -> None:
        async def enough() -> bool:
            await self.fetch()
            return len(self.received) >= count

        await wait_until(enough, f"{count} events on the consumer")
        await self.fetch()  # anything beyond `count` would be a duplicate: collect it too

    def assert_exactly(self, expected: list[UUID]) -> None:
        got = [e.event_id for e in self.received]
        assert len(got) == len(set(got)), "an event reached the consumer twice"
        assert got == expected, "events missing or out of order"
        assert self.msg_ids == [str(e) for e in expected]


async def all_event_ids(store: EventStore) -> list[UUID]:
    return [e.event_id for e in await store.read_all(0, limit=100_000)]


def start(relay: Relay) -> asyncio.Task[None]:
    return asyncio.create_task(relay.run())


async def stop(task: asyncio.Task[None]) -> None:
    await cancel_and_wait(task)


async def test_relay_publishes_everything_in_order_and_checkpoints(
    world: World, nats_client: NATS
) -> None:
    collector = Collector(nats_client, world.namespace)
    await collector.start()
    await append_many(world.store, 30)
    relay = Relay(world.store, nats_client, world.namespace, batch=8)
    task = start(relay)
    try:
        await append_many(world.store, 20, prefix="t")  # while following
        await collector.until(50)
        head = await world.store.head()
        await wait_until(lambda: _at(relay, head), "the relay checkpoint")
    finally:
        await stop(task)
    collector.assert_exactly(await all_event_ids(world.store))
    first = collector.received[0]
    assert first.stream_id == "s:0" and first.data == {"i": 0}


async def _at(relay: Relay, head: int) -> bool:
    return await relay.checkpoint() == head


async def test_relay_cancelled_mid_stream_resumes_without_duplicates(
    world: World, nats_client: NATS
) -> None:
    collector = Collector(nats_client, world.namespace)
    await collector.start()
    await append_many(world.store, 300)
    relay = Relay(world.store, nats_client, world.namespace, batch=10)
    task = start(relay)
    await wait_until(lambda: _past(relay, 40), "the relay to get going")
    await stop(task)  # killed mid-stream: some events published, maybe not checkpointed
    assert 0 < await relay.checkpoint() < 300
    await append_many(world.store, 50, prefix="late")  # committed while no relay runs

    restarted = Relay(world.store, nats_client, world.namespace, batch=10)
    task = start(restarted)
    try:
        await collector.until(350)
    finally:
        await stop(task)
    collector.assert_exactly(await all_event_ids(world.store))


async def _past(relay: Relay, position: int) -> bool:
    return relay.position >= position


async def test_standby_relay_takes_over_when_the_active_ones_connection_dies(
    world: World, nats_client: NATS
) -> None:
    collector = Collector(nats_client, world.namespace)
    await collector.start()
    await append_many(world.store, 200)
    nc1 = await nats.connect(world.stack.nats_url)
    nc2 = await nats.connect(world.stack.nats_url)
    relay1 = Relay(world.store, nc1, world.namespace, batch=10, standby_poll_s=0.05)
    relay2 = Relay(world.store, nc2, world.namespace, batch=10, standby_poll_s=0.05)
    task1 = start(relay1)
    await wait_until(lambda: _past(relay1, 20), "relay 1 to be active")
    task2 = start(relay2)
    try:
        assert relay1.active and not relay2.active
        # Kill relay 1's Postgres session (as a crashed process would lose it): its lock goes.
        pid = await _lock_holder(world)
        await world.store.pool.execute("SELECT pg_terminate_backend($1)", pid)
        # A crashed process does not come back: stop relay 1 before its own retry could win the
        # freed lock back (either relay may take a free lock; this test is about the standby).
        await stop(task1)
        await wait_until(lambda: _true(relay2.active), "relay 2 to take over")
        await append_many(world.store, 30, prefix="after")
        await collector.until(230)
    finally:
        await stop(task1)
        await stop(task2)
        await nc1.close()
        await nc2.close()
    collector.assert_exactly(await all_event_ids(world.store))


async def test_a_relay_whose_nats_connection_closes_hands_over(
    world: World, nats_client: NATS
) -> None:
    collector = Collector(nats_client, world.namespace)
    await collector.start()
    await append_many(world.store, 200)
    nc1 = await nats.connect(world.stack.nats_url)
    nc2 = await nats.connect(world.stack.nats_url)
    relay1 = Relay(world.store, nc1, world.namespace, batch=10, standby_poll_s=0.05)
    relay2 = Relay(world.store, nc2, world.namespace, batch=10, standby_poll_s=0.05)
    task1 = start(relay1)
    await wait_until(lambda: _past(relay1, 20), "relay 1 to be active")
    task2 = start(relay2)
    try:
        await nc1.close()  # mid-stream
        with contextlib.suppress(RelayError):
            await asyncio.wait_for(task1, 10)  # relay 1 gives up and releases the lock
        await append_many(world.store, 30, prefix="after")
        await collector.until(230)
        assert relay2.active
    finally:
        await stop(task1)
        await stop(task2)
        await nc2.close()
    collector.assert_exactly(await all_event_ids(world.store))


async def _true(value: bool) -> bool:
    return value


async def _lock_holder(world: World) -> int:
    key = advisory_key(world.namespace, "relay") & 0xFFFFFFFFFFFFFFFF
    pid: int = await world.store.pool.fetchval(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 1",
        key >> 32,
        key & 0xFFFFFFFF,
    )
    assert pid is not None, "nobody holds the relay lock"
    return pid


async def test_only_one_relay_is_active(world: World, nats_client: NATS) -> None:
    relays = [Relay(world.store, nats_client, world.namespace, standby_poll_s=0.05)
              for _ in range(3)]  # fmt: skip
    tasks = [start(r) for r in relays]
    try:
        await wait_until(lambda: _true(any(r.active for r in relays)), "one active relay")
        await asyncio.sleep(0.2)  # several standby polls: nobody else may become active
        assert sum(r.active for r in relays) == 1
    finally:
        for t in tasks:
            await stop(t)


async def test_events_stream_never_captures_command_subjects(
    world: World, nats_client: NATS
) -> None:
    await ensure_events_stream(nats_client, world.namespace)
    await ensure_events_stream(nats_client, world.namespace)  # idempotent
    info = await nats_client.jetstream().stream_info(events_stream_name(world.namespace))
    assert info.config.subjects == [f"{world.namespace}.evt.>"]
    assert info.config.duplicate_window == 120
    with contextlib.suppress(nats.errors.NoRespondersError):
        reply = await nats_client.request(f"{world.namespace}.cmd.runs.log_run", b"{}", timeout=0.3)
        raise AssertionError(f"a command subject was answered: {reply.data!r}")
