"""Handlers of the insights service: a durable JetStream pull consumer of committed events,
with explicit acks (insights has no commands; events are its only input).

Delivery policy, chosen on purpose (FastStream's default would terminate a failed message):
* A message is acked only after its event was projected: the service's state change, its
  applied marker and the athlete's dirty flag in one Redis transaction. `after_batch` then
  hands the athletes to whatever derives documents from that state.
* A failure NAKs the message with a growing delay (`backoff_s`); after `max_deliver` attempts
  it is parked: pushed on a Redis list an operator can inspect (with the error and the raw
  event), logged at error level, and terminated so that it stops blocking.
* An undecodable message is parked at once (retrying cannot help).
Ordering after a NAK is safe: the projector fills a stream's gap from the event store.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import nats.errors
from maratron_contracts.envelope import RecordedEvent
from maratron_contracts.subjects import events_stream_name, events_wildcard
from maratron_projections import ensure_events_stream
from maratron_service import tracing
from maratron_service.metrics import (
    CONSUMER_DELIVERIES,
    CONSUMER_PARKED,
    CONSUMER_PENDING,
    CONSUMER_REDELIVERIES,
)
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from opentelemetry.trace import SpanKind
from pydantic import ValidationError
from redis.asyncio import Redis

log = logging.getLogger(__name__)

ApplyEvent = Callable[[RecordedEvent], Awaitable[None]]
AfterBatch = Callable[[set[str]], Awaitable[None]]
PARKED_MAX = 10_000


@dataclass(frozen=True)
class ConsumerOptions:
    durable: str
    batch: int = 200
    max_deliver: int = 5
    backoff_s: tuple[float, ...] = (0.2, 1.0, 5.0, 30.0)
    ack_wait_s: float = 60.0
    fetch_timeout_s: float = 1.0


class EventConsumer:
    """Pulls `{ns}.evt.>` from `{NS}_EVENTS`; `run()` until cancelled."""

    def __init__(
        self,
        nats: NATS,
        redis: Redis,
        namespace: str,
        options: ConsumerOptions,
        *,
        event_types: frozenset[str],
        apply_event: ApplyEvent,
        after_batch: AfterBatch,
        parked_key: str,
    ) -> None:
        self.nats = nats
        self.redis = redis
        self.namespace = namespace
        self.options = options
        self.event_types = event_types
        self.apply_event = apply_event
        self.after_batch = after_batch
        self.parked_key = parked_key
        self.processed = 0

    def config(self) -> ConsumerConfig:
        o = self.options
        return ConsumerConfig(
            durable_name=o.durable,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=o.ack_wait_s,
            max_deliver=o.max_deliver,
            filter_subject=events_wildcard(self.namespace),
            max_ack_pending=max(1000, o.batch * 4),
        )

    async def run(self) -> None:
        await ensure_events_stream(self.nats, self.namespace)  # the relay may not have run yet
        js = self.nats.jetstream()
        sub = await js.pull_subscribe(
            events_wildcard(self.namespace),
            durable=self.options.durable,
            stream=events_stream_name(self.namespace),
            config=self.config(),
        )
        log.info("consuming %s as %s", events_wildcard(self.namespace), self.options.durable)
        try:
            while True:
                try:
                    msgs = await sub.fetch(self.options.batch, timeout=self.options.fetch_timeout_s)
                except nats.errors.TimeoutError:
                    CONSUMER_PENDING.labels(self.options.durable).set(0)
                    continue
                if msgs:
                    pending = msgs[-1].metadata.num_pending
                    CONSUMER_PENDING.labels(self.options.durable).set(pending)
                await self.process(msgs)
        finally:
            # a pull subscription left behind makes the connection's drain wait its whole
            # timeout (30 s) on the fetch's pending queue
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def process(self, msgs: Sequence[Msg]) -> None:
        done: list[Msg] = []
        athletes: set[str] = set()
        durable = self.options.durable
        for msg in msgs:
            CONSUMER_DELIVERIES.labels(durable).inc()
            if (msg.metadata.num_delivered or 1) > 1:
                CONSUMER_REDELIVERIES.labels(durable).inc()
            try:
                event = RecordedEvent.model_validate_json(msg.data)
            except ValidationError as exc:
                await self.park(msg, f"undecodable event: {exc.errors(include_url=False)[:1]}")
                continue
            if event.event_type not in self.event_types:
                done.append(msg)
                continue
            try:
                with tracing.tracer.start_as_current_span(
                    f"consume {event.event_type}",
                    context=tracing.extract(msg.headers),  # the relay copies the traceparent
                    kind=SpanKind.CONSUMER,
                    attributes={
                        "messaging.system": "nats",
                        "messaging.consumer.group.name": durable,
                        "maratron.stream_id": event.stream_id,
                    },
                ):
                    await self.apply_event(event)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self.retry_or_park(msg, exc)
                continue
            done.append(msg)
            athletes.add(event.athlete_id)
        try:
            if athletes:
                await self.after_batch(athletes)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            for msg in done:
                await self.retry_or_park(msg, exc)
            return
        for msg in done:
            await msg.ack()
        self.processed += len(done)

    async def retry_or_park(self, msg: Msg, exc: BaseException) -> None:
        deliveries = msg.metadata.num_delivered or 1
        if deliveries >= self.options.max_deliver:
            await self.park(msg, f"{type(exc).__name__}: {exc}")
            return
        backoff = self.options.backoff_s
        delay = backoff[min(deliveries - 1, len(backoff) - 1)]
        log.warning(
            "event failed (delivery %d of %d), retrying in %.1fs: %s",
            deliveries,
            self.options.max_deliver,
            delay,
            exc,
            extra={"subject": msg.subject, "stream_seq": msg.metadata.sequence.stream},
        )
        await msg.nak(delay=delay)

    async def park(self, msg: Msg, reason: str) -> None:
        """Give up on a message: keep it where an operator can see it, then terminate it."""
        record = {
            "subject": msg.subject,
            "stream_seq": msg.metadata.sequence.stream,
            "deliveries": msg.metadata.num_delivered,
            "reason": reason,
            "parked_at": datetime.now(UTC).isoformat(),
            "consumer": self.options.durable,
            "data": msg.data.decode(errors="replace"),
        }
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lpush(self.parked_key, json.dumps(record))
            pipe.ltrim(self.parked_key, 0, PARKED_MAX - 1)
            await pipe.execute()
        log.error(
            "parked event after %s deliveries: %s",
            record["deliveries"],
            reason,
            extra={
                "subject": msg.subject,
                "stream_seq": record["stream_seq"],
                "parked_key": self.parked_key,
            },
        )
        await msg.term()
        CONSUMER_PARKED.labels(self.options.durable).inc()
