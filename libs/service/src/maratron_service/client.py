"""`CommandClient`: send a command by NATS request-reply, retrying safely.

A retry reuses the SAME `command_id`, so a command whose reply was lost is answered from the
service's durable dedup record instead of being applied twice. Attempts back off exponentially
with full jitter, all inside one overall deadline; when no service answers in time the caller
gets `Unavailable` with a message a person can act on.

Uses nats-py directly (raw request-reply is the lowest-latency path on NATS).
"""

from __future__ import annotations

import asyncio
import random
import time
from uuid import UUID, uuid4

import nats.errors
from maratron_contracts.envelope import Actor, CommandEnvelope, Outcome, Reply
from maratron_contracts.errors import Unavailable
from maratron_contracts.messages import Command
from maratron_contracts.subjects import check_namespace, command_subject
from nats.aio.client import Client as NATS
from opentelemetry.trace import SpanKind

from maratron_service import tracing


class CommandClient:
    def __init__(
        self,
        nats: NATS,
        namespace: str,
        replica_id: str | None = None,
        *,
        deadline_s: float = 5.0,
        attempt_timeout_s: float = 2.0,
        backoff_base_s: float = 0.05,
        backoff_cap_s: float = 1.0,
    ) -> None:
        self.nats = nats
        self.namespace = check_namespace(namespace)
        self.replica_id = replica_id
        self.deadline_s = deadline_s
        self.attempt_timeout_s = attempt_timeout_s
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s

    def envelope(
        self,
        command: Command,
        athlete_id: str,
        actor: Actor,
        correlation_id: UUID | None = None,
        *,
        command_id: UUID | None = None,
        causation_id: UUID | None = None,
    ) -> CommandEnvelope:
        return CommandEnvelope(
            command_id=command_id or uuid4(),
            command=type(command).name,
            schema_version=type(command).schema_version,
            athlete_id=athlete_id,
            actor=actor,
            correlation_id=correlation_id or uuid4(),
            causation_id=causation_id,
            gateway_replica=self.replica_id,
            payload=command.model_dump(mode="json"),
        )

    async def send(
        self,
        service: str,
        command: Command,
        athlete_id: str,
        actor: Actor,
        correlation_id: UUID | None = None,
        *,
        command_id: UUID | None = None,
        causation_id: UUID | None = None,
        deadline_s: float | None = None,
    ) -> Outcome:
        """Send and return the outcome, or raise the typed error the service replied with."""
        envelope = self.envelope(
            command,
            athlete_id,
            actor,
            correlation_id,
            command_id=command_id,
            causation_id=causation_id,
        )
        reply = await self.request(service, envelope, deadline_s=deadline_s)
        return reply.unwrap()

    async def request(
        self, service: str, envelope: CommandEnvelope, *, deadline_s: float | None = None
    ) -> Reply:
        """Deliver one envelope (retrying with the same command_id) and return its reply."""
        with tracing.tracer.start_as_current_span(
            f"send {service}.{envelope.command}", kind=SpanKind.CLIENT
        ):
            return await self._request(service, envelope, deadline_s)

    async def _request(
        self, service: str, envelope: CommandEnvelope, deadline_s: float | None
    ) -> Reply:
        subject = command_subject(self.namespace, service, envelope.command)
        payload = envelope.model_dump_json().encode()
        headers = tracing.inject_headers() or None
        deadline = time.monotonic() + (self.deadline_s if deadline_s is None else deadline_s)
        attempt = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                msg = await self.nats.request(
                    subject,
                    payload,
                    timeout=min(self.attempt_timeout_s, remaining),
                    headers=headers,
                )
            except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
                pass
            else:
                reply = Reply.model_validate_json(msg.data)
                if reply.ok or reply.error is None or reply.error.code != Unavailable.code:
                    return reply
            attempt += 1
            pause = random.uniform(0, min(self.backoff_cap_s, self.backoff_base_s * 2**attempt))
            if time.monotonic() + pause >= deadline:
                break
            await asyncio.sleep(pause)
        raise Unavailable(
            f"the {service} service is unavailable; retry in a few seconds",
            service=service,
            command_id=str(envelope.command_id),
        )
