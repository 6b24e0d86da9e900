"""Pure deciders of the context service: Session, Preferences and Memory.

No I/O: time, the acting agent and freshly minted ids are inputs (`Given`), so every decision is
reproducible in a unit test. `decide_*` raise typed errors (nothing is appended) or return the
events to append; `evolve_*` fold events into state.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TypeAlias

from maratron_contracts.context import (
    ConversationContextUpdated,
    EndSession,
    ExchangeRecorded,
    ExpireSession,
    Forget,
    MemoryForgotten,
    MemoryRemembered,
    PreferencesSet,
    RecordExchange,
    Remember,
    SessionEnded,
    SessionExpired,
    SessionStarted,
    SessionStatus,
    SetPreferences,
    StartSession,
    UpdateConversationContext,
    Visibility,
)
from maratron_contracts.errors import Conflict, NotFound, ValidationFailed
from maratron_contracts.messages import Event


@dataclass(frozen=True)
class Given:
    """Facts from outside the domain that a decision depends on."""

    now: datetime
    agent: str
    new_id: str = ""
    idle_timeout_seconds: float = 3600.0


def as_utc(value: datetime) -> datetime:
    """Naive datetimes are taken as UTC; aware ones are converted."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# -- Session -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionState:
    """What decisions about a session need. Every session event carries enough to rebuild it
    on its own (`evolve_session(SessionState(), last_event)` equals folding the whole stream),
    so loading a session reads its LAST event only, however long the conversation."""

    session_id: str = ""
    exists: bool = False
    status: SessionStatus = SessionStatus.ACTIVE
    last_activity_at: datetime | None = None
    idle_timeout_seconds: float = 0.0

    def expires_at(self) -> datetime | None:
        if not self.exists or self.status is not SessionStatus.ACTIVE:
            return None
        assert self.last_activity_at is not None
        return self.last_activity_at + timedelta(seconds=self.idle_timeout_seconds)

    def is_overdue(self, now: datetime) -> bool:
        """Active by its events, but idle for longer than its timeout (the sweeper lags)."""
        expiry = self.expires_at()
        return expiry is not None and as_utc(now) >= expiry

    def effective_status(self, now: datetime) -> SessionStatus:
        return SessionStatus.EXPIRED if self.is_overdue(now) else self.status


SessionCommand: TypeAlias = (
    StartSession | EndSession | ExpireSession | UpdateConversationContext | RecordExchange
)


def session_not_found(session_id: str) -> NotFound:
    # Identical for unknown ids and other athletes' sessions: reveals nothing.
    return NotFound(
        f"session {session_id!r} not found: start one with start_session, or list yours "
        "with list_sessions",
        session_id=session_id,
    )


def require_active_session(state: SessionState, session_id: str, now: datetime) -> None:
    """Raise the error a write to this session gets unless it is active."""
    if not state.exists:
        raise session_not_found(session_id)
    status = state.effective_status(now)
    if status is SessionStatus.EXPIRED:
        raise Conflict(
            f"session {session_id!r} expired after {state.idle_timeout_seconds / 60:g} minutes "
            "without activity: start a new one with start_session",
            session_id=session_id,
            status=status.value,
        )
    if status is SessionStatus.ENDED:
        raise Conflict(
            f"session {session_id!r} has ended: start a new one with start_session",
            session_id=session_id,
            status=status.value,
        )


def decide_session(cmd: SessionCommand, state: SessionState, given: Given) -> list[Event]:
    now = as_utc(given.now)
    if isinstance(cmd, StartSession):
        if state.exists:
            raise Conflict("session id already in use; retry start_session")
        if not given.new_id:
            raise ValueError("StartSession needs a minted session id")
        return [
            SessionStarted(
                session_id=given.new_id,
                title=cmd.title,
                agent=given.agent,
                started_at=now,
                idle_timeout_seconds=given.idle_timeout_seconds,
            )
        ]
    if isinstance(cmd, ExpireSession):
        if not state.exists or not state.is_overdue(now):
            return []
        assert state.last_activity_at is not None
        return [
            SessionExpired(
                session_id=cmd.session_id, last_activity_at=state.last_activity_at, at=now
            )
        ]
    if isinstance(cmd, EndSession):
        if not state.exists:
            raise session_not_found(cmd.session_id)
        if state.effective_status(now) is not SessionStatus.ACTIVE:
            return []  # ending is idempotent: an ended or expired session stays closed
        return [SessionEnded(session_id=cmd.session_id, agent=given.agent, at=now)]

    require_active_session(state, cmd.session_id, now)
    if isinstance(cmd, UpdateConversationContext):
        changes = cmd.model_dump(
            include={"topic", "mood", "mentioned_runs", "mentioned_goals"}, exclude_none=True
        )
        if not changes:
            raise ValidationFailed(
                "nothing to update: give at least one of topic, mood, mentioned_runs, "
                "mentioned_goals"
            )
        return [
            ConversationContextUpdated(
                session_id=cmd.session_id,
                agent=given.agent,
                at=now,
                idle_timeout_seconds=state.idle_timeout_seconds,
                **changes,
            )
        ]
    if not given.new_id:
        raise ValueError("RecordExchange needs a minted exchange id")
    return [
        ExchangeRecorded(
            session_id=cmd.session_id,
            exchange_id=given.new_id,
            agent=given.agent,
            visibility=cmd.visibility,
            user_message=cmd.user_message,
            ai_response=cmd.ai_response,
            intent=cmd.intent,
            sentiment=cmd.sentiment,
            at=now,
            idle_timeout_seconds=state.idle_timeout_seconds,
        )
    ]


def evolve_session(state: SessionState, event: Event) -> SessionState:
    if isinstance(event, SessionStarted):
        return SessionState(
            session_id=event.session_id,
            exists=True,
            status=SessionStatus.ACTIVE,
            last_activity_at=as_utc(event.started_at),
            idle_timeout_seconds=event.idle_timeout_seconds,
        )
    if isinstance(event, ConversationContextUpdated | ExchangeRecorded):
        timeout = event.idle_timeout_seconds
        return replace(
            state,
            session_id=event.session_id,
            exists=True,
            last_activity_at=as_utc(event.at),
            idle_timeout_seconds=state.idle_timeout_seconds if timeout is None else timeout,
        )
    if isinstance(event, SessionEnded | SessionExpired):
        # terminal: nothing is appended after them, so the timestamps no longer matter
        status = SessionStatus.ENDED if isinstance(event, SessionEnded) else SessionStatus.EXPIRED
        return replace(state, session_id=event.session_id, exists=True, status=status)
    return state


# -- Preferences -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreferencesState:
    exists: bool = False
    values: dict[str, object] = field(default_factory=dict)


_PREFERENCE_FIELDS = {"detail_level", "max_results", "coaching_tone", "language"}


def decide_preferences(cmd: SetPreferences, state: PreferencesState, given: Given) -> list[Event]:
    changes = cmd.model_dump(include=_PREFERENCE_FIELDS, exclude_none=True)
    if not changes:
        raise ValidationFailed(
            "nothing to set: give at least one of detail_level (brief, normal, detailed), "
            "max_results (1-100), coaching_tone, language"
        )
    if state.exists and all(state.values.get(k) == v for k, v in changes.items()):
        return []  # already so: no new fact
    return [PreferencesSet(at=as_utc(given.now), **changes)]


def evolve_preferences(state: PreferencesState, event: Event) -> PreferencesState:
    if isinstance(event, PreferencesSet):
        changes = event.model_dump(include=_PREFERENCE_FIELDS, exclude_none=True)
        return PreferencesState(exists=True, values={**state.values, **changes})
    return state


# -- Memory ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemoryState:
    memory_id: str = ""
    exists: bool = False
    forgotten: bool = False
    agent: str = ""
    visibility: Visibility = Visibility.SHARED


def memory_not_found(memory_id: str) -> NotFound:
    return NotFound(
        f"memory item {memory_id!r} not found: search_memory lists the ids of what you can see",
        memory_id=memory_id,
    )


def decide_remember(
    cmd: Remember, state: MemoryState, given: Given, session: SessionState | None
) -> list[Event]:
    """`session` is the state of `cmd.session_id` (None when the item is not tied to one)."""
    now = as_utc(given.now)
    if state.exists:
        raise Conflict("memory id already in use; retry remember")
    if not given.new_id:
        raise ValueError("Remember needs a minted memory id")
    if cmd.session_id is not None:
        require_active_session(session or SessionState(), cmd.session_id, now)
    expires_at = as_utc(cmd.expires_at) if cmd.expires_at is not None else None
    if expires_at is not None and expires_at <= now:
        raise ValidationFailed(
            f"expires_at {expires_at.isoformat()} is in the past: give a future time or omit it",
            field="expires_at",
        )
    return [
        MemoryRemembered(
            memory_id=given.new_id,
            kind=cmd.kind,
            text=cmd.text,
            session_id=cmd.session_id,
            agent=given.agent,
            visibility=cmd.visibility,
            expires_at=expires_at,
            at=now,
        )
    ]


def decide_forget(cmd: Forget, state: MemoryState, given: Given) -> list[Event]:
    hidden = state.visibility is Visibility.PRIVATE and state.agent != given.agent
    if not state.exists or state.forgotten or hidden:
        raise memory_not_found(cmd.memory_id)
    return [MemoryForgotten(memory_id=cmd.memory_id, agent=given.agent, at=as_utc(given.now))]


def evolve_memory(state: MemoryState, event: Event) -> MemoryState:
    if isinstance(event, MemoryRemembered):
        return MemoryState(
            memory_id=event.memory_id, exists=True, agent=event.agent, visibility=event.visibility
        )
    if isinstance(event, MemoryForgotten):
        return replace(state, forgotten=True)
    return state
