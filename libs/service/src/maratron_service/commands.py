"""The decider command loop: NATS request -> load -> decide -> append -> project -> reply.

A service registers one handler per command type on a `CommandBus`:

    bus = CommandBus("runs")

    @bus.handler(LogRun)
    async def log_run(ctx: CommandContext, cmd: LogRun) -> Decision:
        state, version = await ctx.load(f"run:{cmd.run_id}", evolve, RunState())
        return Decision(f"run:{cmd.run_id}", version, decide(cmd, state), {"run_id": ...})

`ServiceApp` binds the bus to its store and projector (`CommandProcessor`) and subscribes it on
`{ns}.cmd.{service}.{name}` in the queue group `{ns}-{service}`. Guarantees:
* a `command_id` already applied gets the stored reply of its first application (durable dedup
  in the store, in the append's transaction) - nothing is applied twice;
* a concurrent append to the same stream re-runs the handler on fresh state (jittered backoff,
  bounded), so no update is lost;
* the new events are projected before the reply (read-your-writes);
* a bad payload is a `ValidationFailed` naming each bad field and how to fix it; any error that
  is not a `MaratronError` is logged with its traceback and answered `internal`, no details.

Latency (the loop sits on every write path, so each sequential round trip counts):
* `@bus.handler(Cmd, prefetch=streams)`: `streams(ctx, cmd)` names the streams the handler will
  load; they are read while the dedup check runs, instead of after it (one round trip less).
  The handler still runs only once the check found no earlier application, and only on the
  first attempt (a conflict retry reads fresh state).
* A projection whose class sets `projects_decided_events = True` is projected inline from the
  events the command just appended, not from a re-read of the stream (one round trip and a
  decode less); see `_decided_events` for what such a projection must not rely on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from uuid import UUID

from faststream.nats.annotations import NatsMessage  # at module level: FastStream resolves it
from maratron_contracts.envelope import (
    Actor,
    CommandEnvelope,
    EventMetadata,
    NewEvent,
    Outcome,
    RecordedEvent,
    Reply,
)
from maratron_contracts.errors import Conflict, MaratronError, ValidationFailed
from maratron_contracts.messages import Command, Event
from maratron_contracts.registry import REGISTRY, Registry
from maratron_contracts.subjects import command_subject, queue_group
from opentelemetry.trace import SpanKind
from pydantic import ValidationError

from maratron_service import logging as jsonlog
from maratron_service import tracing
from maratron_service.metrics import (
    COMMAND_CONFLICT_RETRIES,
    COMMAND_DUPLICATES,
    COMMAND_ERRORS,
    COMMAND_SECONDS,
)
from maratron_service.validation import describe_validation_error

if TYPE_CHECKING:
    from faststream.nats import NatsBroker
    from maratron_eventstore import AppendResult, EventStore
    from maratron_projections import Projector
    from nats.aio.client import Client as NATS
    from nats.aio.msg import Msg
    from nats.aio.subscription import Subscription

log = logging.getLogger(__name__)

C = TypeVar("C", bound=Command)
S = TypeVar("S")

_BACKOFF_S = 0.002
_BACKOFF_CAP_S = 0.25
INTERNAL_MESSAGE = "internal error; nothing was changed if no reply says so - retry the command"


@dataclass(frozen=True)
class Decision:
    """What a handler decided: events to append to one stream at an expected version.

    `expected_version`: the version the handler's state was loaded at (0 = the stream must not
    exist yet, None = no check). `result` is returned to the caller as `Outcome.data` and stored
    with the command, so a retried command gets the very same data. `athlete_id` is the stream's
    owner, by default the command's athlete. No events = nothing to change (still recorded).
    """

    stream_id: str
    expected_version: int | None
    events: Sequence[Event | NewEvent] = ()
    result: dict[str, Any] = field(default_factory=dict)
    athlete_id: str | None = None


class CommandContext:
    """What a handler may use: the store, the envelope, and `load` with an ownership check."""

    def __init__(
        self,
        store: EventStore,
        envelope: CommandEnvelope,
        registry: Registry,
        prefetched: dict[str, asyncio.Future[list[RecordedEvent]]] | None = None,
        *,
        attempt: int = 0,
    ) -> None:
        self.store = store
        self.envelope = envelope
        self.registry = registry
        self.attempt = attempt
        """0 on the first try; n on the n-th retry after a concurrent append (a handler that
        skips a read it knows to be empty on a first try must read it on a retry)."""
        self._prefetched = prefetched if prefetched is not None else {}

    @property
    def actor(self) -> Actor:
        return self.envelope.actor

    @property
    def athlete_id(self) -> str:
        return self.envelope.athlete_id

    @property
    def command_id(self) -> UUID:
        return self.envelope.command_id

    async def load(
        self, stream_id: str, evolve: Callable[[S, Event], S], initial: S
    ) -> tuple[S, int]:
        """Fold a stream into a state; returns (state, version) with version 0 if it is empty.

        A stream owned by another athlete loads as an EMPTY one: the handler then answers with
        exactly the words it uses for an unknown id, so nothing tells the caller that the id
        exists (and an append to it is refused by the store's ownership check anyway).

        A stream the route prefetched is taken from that read (started at most one dedup check
        earlier: the expected version still guards the append); any later load reads afresh.
        """
        pending = self._prefetched.pop(stream_id, None)
        if pending is not None:
            recorded = await pending
        else:
            recorded = await self.store.read_stream(stream_id)
        if recorded and recorded[0].athlete_id != self.athlete_id:
            return initial, 0
        state = initial
        for event in recorded:
            state = evolve(
                state, self.registry.decode(event.event_type, event.schema_version, event.data)
            )
        return state, (recorded[-1].stream_version if recorded else 0)


Handler = Callable[[CommandContext, C], Awaitable[Decision]]
Prefetch = Callable[[CommandContext, C], Iterable[str]]
"""(ctx, cmd) -> the stream ids the handler is about to load (may be empty)."""


@dataclass(frozen=True)
class _Route(Generic[C]):
    command_cls: type[C]
    handler: Handler[C]
    prefetch: Prefetch[C] | None = None


@dataclass(frozen=True)
class _Appended:
    """What one successful append wrote, so the inline projection need not read it back."""

    result: AppendResult
    athlete_id: str
    events: list[NewEvent]
    metadata: EventMetadata


class CommandBus:
    """The table of a service's command handlers (create it at import time, bind it per app)."""

    def __init__(
        self,
        service: str,
        *,
        registry: Registry | None = None,
        max_conflict_retries: int = 10,
    ) -> None:
        self.service = service
        self.registry = registry or REGISTRY
        self.max_conflict_retries = max_conflict_retries
        self.routes: dict[str, _Route[Any]] = {}

    def handler(
        self, command_cls: type[C], *, prefetch: Prefetch[C] | None = None
    ) -> Callable[[Handler[C]], Handler[C]]:
        """Register `async def handle(ctx, cmd) -> Decision` for `command_cls`.

        `prefetch(ctx, cmd)`: the streams the handler loads, read concurrently with the dedup
        check. Return none where the handler must refuse before reading anything (e.g. an
        actor that needs an authorization lookup first).
        """
        if command_cls.service != self.service:
            raise ValueError(
                f"{command_cls.__name__} belongs to service {command_cls.service!r},"
                f" not {self.service!r}"
            )

        def register(fn: Handler[C]) -> Handler[C]:
            if command_cls.name in self.routes:
                raise ValueError(f"command {command_cls.name} has two handlers")
            self.routes[command_cls.name] = _Route(command_cls, fn, prefetch)
            return fn

        return register

    def processor(
        self, store: EventStore, projector: Projector | None, *, namespace: str
    ) -> CommandProcessor:
        return CommandProcessor(self, store, projector, namespace=namespace)


class CommandProcessor:
    """A bus bound to one app's store and projector; `process` turns request bytes into reply
    bytes (transport-free, so it is testable on its own)."""

    def __init__(
        self,
        bus: CommandBus,
        store: EventStore,
        projector: Projector | None,
        *,
        namespace: str,
    ) -> None:
        self.bus = bus
        self.store = store
        self.projector = projector
        self.namespace = namespace
        self._in_flight = 0
        self._stream_locks = KeyedLocks()
        self._idle = asyncio.Event()
        self._idle.set()
        self._nats_subs: list[Subscription] = []
        self._tasks: set[asyncio.Task[None]] = set()

    # -- transport --------------------------------------------------------------------------
    def subscribe(self, broker: NatsBroker, *, max_workers: int = 16) -> list[Any]:
        """Subscribe every registered command on `broker` (queue group `{ns}-{service}`)."""
        subscribers = []
        group = queue_group(self.namespace, self.bus.service)
        for name in self.bus.routes:

            def make(command: str) -> Callable[[NatsMessage], Awaitable[bytes]]:
                async def on_command(message: NatsMessage) -> bytes:
                    return await self.process(command, message.body, message.headers)

                return on_command

            subject = command_subject(self.namespace, self.bus.service, name)
            subscriber = broker.subscriber(
                subject, queue=group, max_workers=max_workers if max_workers > 1 else None
            )
            subscriber(make(name))
            subscribers.append(subscriber)
        return subscribers

    async def subscribe_nats(self, nats: NATS, *, max_workers: int = 16) -> None:
        """Subscribe every registered command straight on a nats-py connection (what
        `ServiceApp` uses): same subjects, queue group and bytes as `subscribe`, without
        FastStream's per-message machinery (decoder, dependency injection, middlewares: about a
        quarter of a millisecond per command here, and as much CPU). At most `max_workers`
        commands run at once; further messages wait in the subscription (back pressure).
        `unsubscribe_nats()` stops taking messages; `wait_idle()` then waits for the rest."""
        group = queue_group(self.namespace, self.bus.service)
        slots = asyncio.Semaphore(max(1, max_workers))
        for name in self.bus.routes:
            subject = command_subject(self.namespace, self.bus.service, name)
            self._nats_subs.append(
                await nats.subscribe(subject, queue=group, cb=self._receiver(nats, name, slots))
            )

    def _receiver(
        self, nats: NATS, command: str, slots: asyncio.Semaphore
    ) -> Callable[[Msg], Awaitable[None]]:
        async def receive(msg: Msg) -> None:
            await slots.acquire()  # nats-py awaits this callback: a full house holds delivery
            task = asyncio.create_task(self._serve_nats(nats, command, msg))
            self._tasks.add(task)
            task.add_done_callback(done)

        def done(task: asyncio.Task[None]) -> None:
            self._tasks.discard(task)
            slots.release()

        return receive

    async def _serve_nats(self, nats: NATS, command: str, msg: Msg) -> None:
        reply = await self.process(command, msg.data, msg.headers)
        if not msg.reply:
            return
        try:
            await nats.publish(msg.reply, reply)
        except Exception:
            log.warning("could not send the reply of a %s command", command, exc_info=True)

    async def unsubscribe_nats(self) -> None:
        """Stop taking commands from NATS (those already received still run and reply)."""
        subs, self._nats_subs = self._nats_subs, []
        for sub in subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def wait_idle(self) -> None:
        """Wait until no command is in flight (graceful shutdown; bound it with a timeout)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))
        await self._idle.wait()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    # -- the loop ---------------------------------------------------------------------------
    async def process(
        self, command: str, body: bytes, headers: Mapping[str, str] | None = None
    ) -> bytes:
        self._in_flight += 1
        self._idle.clear()
        started = time.perf_counter()
        try:
            with tracing.tracer.start_as_current_span(
                f"command {self.bus.service}.{command}",
                context=tracing.extract(headers),
                kind=SpanKind.SERVER,
            ):
                reply = await self._reply(command, body)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()
        COMMAND_SECONDS.labels(self.bus.service, command).observe(time.perf_counter() - started)
        if reply.error is not None:
            COMMAND_ERRORS.labels(self.bus.service, command, reply.error.code.value).inc()
        return reply.model_dump_json().encode()

    async def _reply(self, command: str, body: bytes) -> Reply:
        try:
            envelope = CommandEnvelope.model_validate_json(body)
        except ValidationError as exc:
            return Reply.failure(
                _command_id_of(body),
                ValidationFailed(
                    describe_validation_error(exc, "command envelope", CommandEnvelope)
                ),
            )
        with jsonlog.bind(correlation=envelope.correlation_id, command=envelope.command_id):
            try:
                outcome = await self._execute(command, envelope)
            except MaratronError as exc:
                log.info("command %s refused: %s", command, exc.code.value)
                return Reply.failure(envelope.command_id, exc)
            except Exception:
                log.exception("command %s failed", command)
                return Reply.failure(envelope.command_id, MaratronError(INTERNAL_MESSAGE))
            return Reply.success(envelope.command_id, outcome)

    async def _execute(self, command: str, envelope: CommandEnvelope) -> Outcome:
        route = self.bus.routes.get(command)
        if route is None or envelope.command != command:
            raise ValidationFailed(
                f"command {envelope.command!r} was sent to the subject of {command!r};"
                " send each command to its own subject"
            )
        dedup = asyncio.ensure_future(self.store.command_result(envelope.command_id))
        prefetched: dict[str, asyncio.Future[list[RecordedEvent]]] = {}
        try:
            try:
                cmd = route.command_cls.model_validate(envelope.payload)
            except ValidationError as exc:
                if (prior := await dedup) is not None:  # an applied command id wins, as before
                    return await self._duplicate(command, prior)
                raise ValidationFailed(
                    describe_validation_error(exc, command, route.command_cls),
                    errors=_error_list(exc),
                ) from None
            ctx = CommandContext(self.store, envelope, self.bus.registry, prefetched)
            if route.prefetch is not None:
                for stream_id in route.prefetch(ctx, cmd):
                    if stream_id not in prefetched:
                        prefetched[stream_id] = asyncio.ensure_future(
                            self.store.read_stream(stream_id)
                        )
            if (prior := await dedup) is not None:
                return await self._duplicate(command, prior)
            try:
                appended = await self._decide_and_append(command, route, envelope, cmd, ctx)
            except MaratronError:
                # A retry of this very command may have raced its first delivery: the first one
                # committed after our dedup check, so the handler saw its effect and refused
                # (e.g. "already registered"). The caller must get the original reply instead.
                prior = await self.store.command_result(envelope.command_id)
                if prior is None:
                    raise
                return await self._duplicate(command, prior)
        finally:
            await _settle([dedup, *prefetched.values()])
        # A duplicate found by the append itself (the first delivery committed after our
        # check) carries the first delivery's events: those are read back, not ours.
        await self._project(appended.result, None if appended.result.duplicate else appended)
        return _outcome(appended.result)

    async def _duplicate(self, command: str, prior: AppendResult) -> Outcome:
        """The stored reply of an already applied command (re-projected: the first delivery
        may have crashed before its inline projection)."""
        COMMAND_DUPLICATES.labels(self.bus.service, command).inc()
        await self._project(prior)
        return _outcome(prior)

    async def _decide_and_append(
        self,
        command: str,
        route: _Route[Any],
        envelope: CommandEnvelope,
        cmd: Command,
        first: CommandContext,
    ) -> _Appended:
        """Decide and append; on a concurrent append to the stream, decide again on fresh state.

        `first` is the first attempt's context (with its prefetched reads); a retry gets a new
        one, which reads everything afresh.

        Retries of one stream queue on a per-stream lock in this replica (contention inside a
        replica becomes a queue, not a conflict storm), and back off with full jitter scaled by
        how long an attempt takes (so the spread grows when the machine is slow).
        """
        from maratron_eventstore import WrongExpectedVersion

        trace_id, traceparent = tracing.current_ids()
        metadata = EventMetadata.for_command(envelope, trace_id=trace_id, traceparent=traceparent)
        retries = self.bus.max_conflict_retries
        registry = self.bus.registry
        stream: str | None = None
        for attempt in range(retries + 1):
            started = time.perf_counter()
            async with self._stream_locks.hold(stream):
                ctx = first
                if attempt > 0:
                    ctx = CommandContext(self.store, envelope, registry, attempt=attempt)
                decision = await route.handler(ctx, cmd)
                owner = decision.athlete_id or envelope.athlete_id
                events = [_new_event(e) for e in decision.events]
                try:
                    with tracing.tracer.start_as_current_span(
                        "eventstore.append",
                        kind=SpanKind.CLIENT,
                        attributes={
                            "db.system": "postgresql",
                            "maratron.stream_id": decision.stream_id,
                            "maratron.events": len(decision.events),
                        },
                    ):
                        result = await self.store.append(
                            decision.stream_id,
                            owner,
                            events,
                            expected_version=decision.expected_version,
                            metadata=metadata,
                            command_id=envelope.command_id,
                            result_data=decision.result,
                        )
                        return _Appended(result, owner, events, metadata)
                except WrongExpectedVersion:
                    stream = decision.stream_id
            if attempt == retries:
                break
            COMMAND_CONFLICT_RETRIES.labels(self.bus.service, command).inc()
            unit = max(_BACKOFF_S, time.perf_counter() - started)
            await asyncio.sleep(random.uniform(0, min(_BACKOFF_CAP_S, unit * 2**attempt)))
        raise Conflict(
            f"{command} gave up after {retries + 1} attempts: the same data kept changing under"
            " concurrent commands; retry in a moment"
        )

    async def _project(self, result: AppendResult, appended: _Appended | None = None) -> None:
        """Project the command's events inline. A failure here is logged, not returned: the
        events are committed and the catch-up projector converges.

        `appended` (this delivery's own append): the events are taken from it when every
        projection concerned accepts decided events; otherwise they are read back."""
        if self.projector is None or not result.event_ids:
            return
        try:
            with tracing.tracer.start_as_current_span(
                "projection.apply",
                attributes={
                    "db.system": "redis",
                    "maratron.stream_id": result.stream_id,
                    "maratron.events": len(result.event_ids),
                },
            ):
                events = _decided_events(appended, self.projector)
                if events is None:
                    first = result.stream_version - len(result.event_ids) + 1
                    ids = set(result.event_ids)
                    events = [
                        e
                        for e in await self.store.read_stream(result.stream_id, from_version=first)
                        if e.event_id in ids
                    ]
                await self.projector.apply(events)
        except Exception:
            log.exception("inline projection failed; the catch-up projector will apply it")


def _decided_events(appended: _Appended | None, projector: Projector) -> list[RecordedEvent] | None:
    """The appended events as the store recorded them, rebuilt without reading them back - or
    None when a projection concerned has not opted in (`projects_decided_events = True`).

    Identical to a read of the stream in everything but two fields: `recorded_at` (the
    database's clock, unknown here: this process's clock instead) and `hash` (None). Personal
    fields are in clear even if the athlete's key was erased in the meantime (the store then
    stored "[erased]"). A projection opts in only if it reads neither field and scrubs the
    personal fields of an erased athlete itself. Positions are exact: an append's events get
    consecutive positions and stream versions, the last of each in the `AppendResult`.
    """
    if appended is None:
        return None
    result, events = appended.result, appended.events
    types = {e.event_type for e in events}
    for projection in projector.projections:
        if types & projection.event_types and not getattr(
            projection, "projects_decided_events", False
        ):
            return None
    if result.global_position is None or [e.event_id for e in events] != list(result.event_ids):
        return None
    n = len(events)
    now = datetime.now(UTC)
    return [
        RecordedEvent.model_construct(
            global_position=result.global_position - n + 1 + i,
            event_id=e.event_id,
            stream_id=result.stream_id,
            stream_version=result.stream_version - n + 1 + i,
            athlete_id=appended.athlete_id,
            event_type=e.event_type,
            schema_version=e.schema_version,
            data=e.data,
            metadata=appended.metadata,
            recorded_at=now,
            hash=None,
        )
        for i, e in enumerate(events)
    ]


async def _settle(futures: Sequence[asyncio.Future[Any]]) -> None:
    """Wait for reads nobody consumed (a refused or duplicate command), so none outlives the
    command or leaves an unretrieved error; their outcome no longer matters."""
    pending = [f for f in futures if not f.done()]
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
    for f in futures:
        if f.done() and not f.cancelled():
            f.exception()


class KeyedLocks:
    """One asyncio.Lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str | None) -> AsyncIterator[None]:
        """Hold the key's lock (no lock at all for None)."""
        if key is None:
            yield
            return
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


def _new_event(event: Event | NewEvent) -> NewEvent:
    if isinstance(event, NewEvent):
        return event
    return NewEvent(
        event_type=type(event).event_type,
        schema_version=type(event).schema_version,
        data=event.model_dump(mode="json"),
    )


def _outcome(result: AppendResult) -> Outcome:
    return Outcome(
        stream_id=result.stream_id,
        stream_version=result.stream_version,
        global_position=result.global_position,
        event_ids=list(result.event_ids),
        data=dict(result.data),
    )


def _error_list(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(p) for p in err["loc"]) or "(payload)", "problem": err["msg"]}
        for err in exc.errors(include_url=False)
    ]


def _command_id_of(body: bytes) -> UUID:
    """Best effort: the command id of a malformed envelope, so the reply still correlates."""
    try:
        return UUID(str(json.loads(body)["command_id"]))
    except Exception:
        return UUID(int=0)
