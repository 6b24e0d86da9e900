"""The command loop over real NATS + Postgres + Redis, with the test-only counter service."""

from __future__ import annotations

import asyncio
import time
from uuid import uuid4

import pytest
from maratron_contracts.envelope import Actor, CommandEnvelope, Reply
from maratron_contracts.errors import ErrorCode, NotFound, Unavailable, ValidationFailed
from maratron_contracts.subjects import command_subject
from maratron_service.app import ServiceApp
from maratron_service.commands import INTERNAL_MESSAGE
from maratron_service.settings import Settings
from maratron_service.testing import client_of, drop_namespace, running_app, settings_for
from maratron_testing.plugin import StackUrls
from prometheus_client import REGISTRY

from .service_counter_app import (
    GATE,
    HANDLER_CALLS,
    Explode,
    Increment,
    Slow,
    build_app,
)

ACTOR = Actor(subject="a1", roles=(), auth_method="jwt")


async def counter_value(app: ServiceApp, counter_id: str) -> int:
    raw = await app.redis.get(app.keys("counter", f"counter:{counter_id}"))
    return int(raw) if raw is not None else 0


async def wait_for(condition, what: str, limit_s: float = 10) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + limit_s
    while not await condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def test_a_command_is_applied_and_projected_before_the_reply(counter_app: ServiceApp) -> None:
    client = client_of(counter_app)
    outcome = await client.send("counter", Increment(counter_id="c1", by=5), "a1", ACTOR)
    assert outcome.data == {"value": 5}
    assert outcome.stream_id == "counter:c1" and outcome.stream_version == 1
    assert outcome.global_position == await counter_app.store.head()
    assert await counter_value(counter_app, "c1") == 5  # read-your-writes


async def test_a_retried_command_id_is_applied_once(counter_app: ServiceApp) -> None:
    client = client_of(counter_app)
    envelope = client.envelope(Increment(counter_id="c2", by=3), "a1", ACTOR)
    first = await client.request("counter", envelope)
    second = await client.request("counter", envelope)
    assert first.ok and second == first
    assert len(await counter_app.store.read_stream("counter:c2")) == 1
    assert await counter_value(counter_app, "c2") == 3


async def test_a_lost_reply_then_a_retry_gets_the_original_outcome(
    counter_app: ServiceApp,
) -> None:
    client = client_of(counter_app)
    envelope = client.envelope(Increment(counter_id="c3", by=7), "a1", ACTOR)
    subject = command_subject(counter_app.settings.namespace, "counter", "increment")
    # The service handles it, but its reply goes to an inbox nobody listens to.
    await counter_app.nats.publish(
        subject, envelope.model_dump_json().encode(), reply=f"_INBOX.lost.{uuid4().hex}"
    )

    async def recorded() -> bool:
        return await counter_app.store.command_result(envelope.command_id) is not None

    await wait_for(recorded, "the first delivery to be applied")
    reply = await client.request("counter", envelope)
    stored = await counter_app.store.command_result(envelope.command_id)
    assert stored is not None and reply.outcome is not None
    assert reply.outcome.event_ids == stored.event_ids
    assert reply.outcome.data == {"value": 7}
    assert HANDLER_CALLS[str(envelope.command_id)] == 1  # answered from the dedup record
    assert len(await counter_app.store.read_stream("counter:c3")) == 1
    assert await counter_value(counter_app, "c3") == 7


async def test_client_retries_after_an_attempt_timeout_with_the_same_command_id(
    counter_app: ServiceApp,
) -> None:
    GATE.clear()
    client = client_of(counter_app, attempt_timeout_s=0.1, deadline_s=10)
    sending = asyncio.create_task(client.send("counter", Slow(counter_id="c4"), "a1", ACTOR))
    processor = counter_app.processor
    assert processor is not None

    async def retried() -> bool:
        return processor.in_flight >= 2  # the first attempt timed out; the retry arrived

    await wait_for(retried, "a retry of the slow command")
    GATE.set()
    outcome = await sending
    assert outcome.data == {"value": 1}
    assert len(await counter_app.store.read_stream("counter:c4")) == 1
    assert await counter_value(counter_app, "c4") == 1


async def test_validation_errors_name_each_field_and_the_fix(counter_app: ServiceApp) -> None:
    client = client_of(counter_app)
    envelope = CommandEnvelope(
        command_id=uuid4(),
        command="increment",
        athlete_id="a1",
        actor=ACTOR,
        payload={"by": 0, "colour": "red"},
    )
    reply = await client.request("counter", envelope)
    assert reply.error is not None and reply.error.code == ErrorCode.VALIDATION
    message = reply.error.message
    assert message.startswith("invalid increment: ")
    assert "counter_id is required: add it" in message
    assert "by input should be greater than or equal to 1 (got 0)" in message
    assert "colour is not a known field: remove it (known fields: by, counter_id)" in message
    assert await counter_app.store.head() == 0  # nothing changed
    with pytest.raises(ValidationFailed):
        reply.unwrap()


async def test_a_malformed_envelope_is_a_validation_error(counter_app: ServiceApp) -> None:
    subject = command_subject(counter_app.settings.namespace, "counter", "increment")
    msg = await counter_app.nats.request(subject, b'{"command": "increment"}', timeout=5)
    reply = Reply.model_validate_json(msg.data)
    assert reply.error is not None and reply.error.code == ErrorCode.VALIDATION
    assert "invalid command envelope" in reply.error.message
    assert "command_id is required" in reply.error.message


async def test_twenty_concurrent_commands_on_one_stream_all_apply(
    counter_app: ServiceApp, maratron_stack: StackUrls
) -> None:
    retries_before = (
        REGISTRY.get_sample_value(
            "maratron_command_conflict_retries_total",
            {"service": "counter", "command": "increment"},
        )
        or 0.0
    )
    settings = settings_for(
        maratron_stack, type(counter_app.settings), counter_app.settings.namespace,
        service_name="counter", relay_enabled=False,
    )  # fmt: skip
    async with running_app(build_app, settings) as replica2:  # two replicas, one queue group
        clients = [client_of(counter_app), client_of(replica2)]
        outcomes = await asyncio.gather(
            *(
                clients[i % 2].send("counter", Increment(counter_id="hot", by=1), "a1", ACTOR)
                for i in range(20)
            )
        )
    assert sorted(o.data["value"] for o in outcomes) == list(range(1, 21))
    assert len(await counter_app.store.read_stream("counter:hot")) == 20
    assert await counter_value(counter_app, "hot") == 20
    retries_after = REGISTRY.get_sample_value(
        "maratron_command_conflict_retries_total", {"service": "counter", "command": "increment"}
    )
    assert retries_after is not None and retries_after > retries_before  # conflicts did happen


async def test_another_athletes_stream_is_not_found(counter_app: ServiceApp) -> None:
    client = client_of(counter_app)
    await client.send("counter", Increment(counter_id="mine"), "a1", ACTOR)
    other = Actor(subject="a2", auth_method="jwt")
    with pytest.raises(NotFound, match="not found"):  # the store refuses the foreign append
        await client.send("counter", Increment(counter_id="mine"), "a2", other)
    assert len(await counter_app.store.read_stream("counter:mine")) == 1


async def test_unexpected_errors_are_internal_without_details(counter_app: ServiceApp) -> None:
    client = client_of(counter_app)
    envelope = client.envelope(Explode(), "a1", ACTOR)
    reply = await client.request("counter", envelope)
    assert reply.error is not None
    assert reply.error.code == ErrorCode.INTERNAL
    assert reply.error.message == INTERNAL_MESSAGE
    assert "hunter2" not in reply.model_dump_json()


async def test_unavailable_within_the_deadline_when_no_service_listens(
    counter_app: ServiceApp, namespace: str
) -> None:
    from maratron_service.client import CommandClient

    client = CommandClient(counter_app.nats, f"{namespace}x", "r1", deadline_s=0.5)
    started = time.monotonic()
    with pytest.raises(Unavailable, match="the counter service is unavailable; retry in a few"):
        await client.send("counter", Increment(counter_id="c"), "a1", ACTOR)
    assert time.monotonic() - started < 0.5 + 1.0  # the deadline bounds the wait


async def test_stop_finishes_in_flight_commands(maratron_stack: StackUrls, namespace: str) -> None:
    GATE.clear()
    settings = settings_for(maratron_stack, Settings, namespace, service_name="counter")
    try:
        async with running_app(build_app, settings) as server:
            settings2 = settings_for(maratron_stack, Settings, namespace, service_name="caller")
            async with running_app(lambda s: ServiceApp(s), settings2) as caller:
                assert caller.client is not None
                sending = asyncio.create_task(
                    caller.client.send("counter", Slow(counter_id="s1"), "a1", ACTOR)
                )
                processor = server.processor
                assert processor is not None

                async def started() -> bool:
                    return processor.in_flight == 1

                await wait_for(started, "the slow command to start")
                stopping = asyncio.create_task(server.stop())
                await asyncio.sleep(0.05)
                assert not stopping.done()  # waiting for the in-flight command
                GATE.set()
                outcome = await sending
                await stopping
                assert outcome.data == {"value": 1}
    finally:
        await drop_namespace(maratron_stack, namespace)
