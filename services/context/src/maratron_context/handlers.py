"""Command handlers: load state, decide (pure, `domain`), return the Decision to append.

Ids are minted here (sessions: `secrets.token_urlsafe(24)`, 192 random bits, unguessable) and
stored with the command's result, so a retried command returns the same id. Results carry ids
and timestamps only: the command record is not encrypted, so personal text never goes there
(callers read the entity back from its read model, projected before the reply). Another
athlete's session or memory id gets exactly the error an unknown id gets.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from maratron_contracts.context import (
    SERVICE,
    EndSession,
    ExpireSession,
    Forget,
    RecordExchange,
    Remember,
    SetPreferences,
    StartSession,
    UpdateConversationContext,
    agent_of,
    memory_stream,
    prefs_stream,
    session_stream,
)
from maratron_contracts.errors import Forbidden, NotFound
from maratron_contracts.messages import Event
from maratron_service.commands import CommandBus, CommandContext, Decision

from maratron_context.domain import (
    Given,
    MemoryState,
    PreferencesState,
    SessionState,
    decide_forget,
    decide_preferences,
    decide_remember,
    decide_session,
    evolve_memory,
    evolve_preferences,
    evolve_session,
    memory_not_found,
    session_not_found,
)

Clock = Callable[[], datetime]
S = TypeVar("S")


def utcnow() -> datetime:
    return datetime.now(UTC)


async def _load(
    ctx: CommandContext,
    stream_id: str,
    evolve: Callable[[S, Event], S],
    initial: S,
    not_found: Callable[[], NotFound],
) -> tuple[S, int]:
    """`ctx.load`, with a foreign stream reported exactly like an unknown id."""
    try:
        return await ctx.load(stream_id, evolve, initial)
    except NotFound:
        raise not_found() from None


async def load_session(ctx: CommandContext, session_id: str) -> tuple[SessionState, int]:
    """The session's state from its LAST event only (see `SessionState`): O(1) in the length
    of the conversation. Unknown and foreign sessions raise the same NotFound."""
    stream = session_stream(session_id)
    info = await ctx.store.stream_info(stream)
    if info is None or info.athlete_id != ctx.athlete_id:
        raise session_not_found(session_id)
    recorded = await ctx.store.read_stream(stream, from_version=info.version)
    last = recorded[-1]  # a concurrent append may have added more: the newest counts
    event = ctx.registry.decode(last.event_type, last.schema_version, last.data)
    return evolve_session(SessionState(), event), last.stream_version


def build_bus(idle_timeout_seconds: float, clock: Clock = utcnow) -> CommandBus:
    """The context service's command table, for sessions idling out after the given time."""
    bus = CommandBus(SERVICE)

    def given(ctx: CommandContext, agent: str | None, new_id: str = "") -> Given:
        return Given(
            now=clock(),
            agent=agent_of(agent, ctx.actor.client_id),
            new_id=new_id,
            idle_timeout_seconds=idle_timeout_seconds,
        )

    @bus.handler(StartSession)
    async def start_session(ctx: CommandContext, cmd: StartSession) -> Decision:
        session_id = secrets.token_urlsafe(24)
        events = decide_session(cmd, SessionState(), given(ctx, cmd.agent, session_id))
        return Decision(session_stream(session_id), 0, events, {"session_id": session_id})

    async def session_command(
        ctx: CommandContext,
        cmd: EndSession | ExpireSession | UpdateConversationContext | RecordExchange,
        agent: str | None,
        new_id: str = "",
    ) -> tuple[list[Event], int]:
        state, version = await load_session(ctx, cmd.session_id)
        return decide_session(cmd, state, given(ctx, agent, new_id)), version

    @bus.handler(EndSession)
    async def end_session(ctx: CommandContext, cmd: EndSession) -> Decision:
        events, version = await session_command(ctx, cmd, cmd.agent)
        return Decision(
            session_stream(cmd.session_id),
            version,
            events,
            {"session_id": cmd.session_id, "ended": True},
        )

    @bus.handler(ExpireSession)
    async def expire_session(ctx: CommandContext, cmd: ExpireSession) -> Decision:
        if "system" not in ctx.actor.roles:
            raise Forbidden("expire_session is internal to the context service")
        events, version = await session_command(ctx, cmd, None)
        return Decision(
            session_stream(cmd.session_id),
            version,
            events,
            {"session_id": cmd.session_id, "expired": bool(events)},
        )

    @bus.handler(UpdateConversationContext)
    async def update_context(ctx: CommandContext, cmd: UpdateConversationContext) -> Decision:
        events, version = await session_command(ctx, cmd, cmd.agent)
        return Decision(
            session_stream(cmd.session_id), version, events, {"session_id": cmd.session_id}
        )

    @bus.handler(RecordExchange)
    async def record_exchange(ctx: CommandContext, cmd: RecordExchange) -> Decision:
        exchange_id = secrets.token_urlsafe(12)
        events, version = await session_command(ctx, cmd, cmd.agent, exchange_id)
        return Decision(
            session_stream(cmd.session_id),
            version,
            events,
            {
                "exchange_id": exchange_id,
                "session_id": cmd.session_id,
                "recorded_at": events[0].at.isoformat(),  # type: ignore[attr-defined]
            },
        )

    @bus.handler(SetPreferences)
    async def set_preferences(ctx: CommandContext, cmd: SetPreferences) -> Decision:
        stream = prefs_stream(ctx.athlete_id)
        state, version = await ctx.load(stream, evolve_preferences, PreferencesState())
        events = decide_preferences(cmd, state, given(ctx, None))
        return Decision(stream, version, events, {"changed": bool(events)})

    @bus.handler(Remember)
    async def remember(ctx: CommandContext, cmd: Remember) -> Decision:
        memory_id = "m_" + secrets.token_urlsafe(12)
        session: SessionState | None = None
        if cmd.session_id is not None:
            session, _ = await load_session(ctx, cmd.session_id)
        events = decide_remember(cmd, MemoryState(), given(ctx, cmd.agent, memory_id), session)
        return Decision(memory_stream(memory_id), 0, events, {"memory_id": memory_id})

    @bus.handler(Forget)
    async def forget(ctx: CommandContext, cmd: Forget) -> Decision:
        state, version = await _load(
            ctx,
            memory_stream(cmd.memory_id),
            evolve_memory,
            MemoryState(),
            lambda: memory_not_found(cmd.memory_id),
        )
        events = decide_forget(cmd, state, given(ctx, cmd.agent))
        return Decision(
            memory_stream(cmd.memory_id),
            version,
            events,
            {"memory_id": cmd.memory_id, "forgotten": True},
        )

    return bus
