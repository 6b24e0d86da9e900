"""Context bounded context: conversation sessions, preferences and memory.

Streams (all owned by one athlete):
  session:{session_id}  SessionStarted, ConversationContextUpdated, ExchangeRecorded,
                        SessionEnded, SessionExpired
  prefs:{athlete_id}    PreferencesSet
  memory:{memory_id}    MemoryRemembered, MemoryForgotten

Several agents (MCP clients) of one athlete may share a session. Every exchange and memory item
records the agent that wrote it and a visibility: `shared` (every agent of the athlete sees it)
or `private` (only the writing agent sees it). Free text is personal data (crypto-shredded).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import BeforeValidator, Field, StringConstraints

from maratron_contracts.messages import Command, Event, Message, ReadModel
from maratron_contracts.registry import command, event, read_model

SERVICE = "context"
MAX_TEXT = 10_000
"""Longest accepted free text (a message, a response, a memory item, a query)."""
MAX_SHORT = 200
"""Longest accepted short label (title, topic, mood, intent, tone, agent)."""

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_SHORT)]
AgentName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=1,
        max_length=MAX_SHORT,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._:@/-]*$",
    ),
]


def _erased_list(value: object) -> object:
    # A crypto-shredded personal field reads back as the string "[erased]", whatever its type.
    return [value] if isinstance(value, str) else value


ErasableList = Annotated[list[str] | None, BeforeValidator(_erased_list)]


class DetailLevel(StrEnum):
    BRIEF = "brief"
    NORMAL = "normal"
    DETAILED = "detailed"


class MemoryKind(StrEnum):
    NOTE = "note"
    GOAL = "goal"
    INJURY = "injury"
    PREFERENCE = "preference"
    RACE = "race"


class Visibility(StrEnum):
    SHARED = "shared"
    PRIVATE = "private"


class SearchKind(StrEnum):
    """What `search_memory` may filter on: a memory kind, or conversation exchanges."""

    NOTE = "note"
    GOAL = "goal"
    INJURY = "injury"
    PREFERENCE = "preference"
    RACE = "race"
    EXCHANGE = "exchange"


class SessionStatus(StrEnum):
    ACTIVE = "active"
    ENDED = "ended"
    EXPIRED = "expired"


class ItemType(StrEnum):
    MEMORY = "memory"
    EXCHANGE = "exchange"


DEFAULT_AGENT = "default"


def agent_of(agent: str | None, client_id: str | None) -> str:
    """The agent an exchange or memory item belongs to: the explicit `agent` tool parameter,
    else the token's client id, else "default". (Privacy between one athlete's own agents is a
    convenience, not a security boundary: the athlete owns every agent.)"""
    return agent or client_id or DEFAULT_AGENT


def session_stream(session_id: str) -> str:
    return f"session:{session_id}"


def prefs_stream(athlete_id: str) -> str:
    return f"prefs:{athlete_id}"


def memory_stream(memory_id: str) -> str:
    return f"memory:{memory_id}"


# -- commands ----------------------------------------------------------------------------------
# `agent` names the writing MCP client; the gateway fills it from the tool's `agent` parameter or
# the token's client id. The service falls back to the actor's client id, then "default".


class _ContextCommand(Command):
    service: ClassVar[str] = SERVICE


@command
class StartSession(_ContextCommand):
    name: ClassVar[str] = "start_session"
    title: Short | None = None
    agent: AgentName | None = None


@command
class EndSession(_ContextCommand):
    name: ClassVar[str] = "end_session"
    session_id: Short
    agent: AgentName | None = None


@command
class ExpireSession(_ContextCommand):
    """Internal (system actor only): sent by the idle sweeper; a no-op unless overdue."""

    name: ClassVar[str] = "expire_session"
    session_id: Short


@command
class UpdateConversationContext(_ContextCommand):
    name: ClassVar[str] = "update_conversation_context"
    session_id: Short
    topic: Short | None = None
    mood: Short | None = None
    mentioned_runs: list[Short] | None = Field(default=None, max_length=100)
    mentioned_goals: list[Short] | None = Field(default=None, max_length=100)
    agent: AgentName | None = None


@command
class RecordExchange(_ContextCommand):
    name: ClassVar[str] = "record_exchange"
    session_id: Short
    user_message: Text
    ai_response: Text
    intent: Short | None = None
    sentiment: Short | None = None
    visibility: Visibility = Visibility.SHARED
    agent: AgentName | None = None


@command
class SetPreferences(_ContextCommand):
    name: ClassVar[str] = "set_preferences"
    detail_level: DetailLevel | None = None
    max_results: int | None = Field(default=None, ge=1, le=100)
    coaching_tone: Short | None = None
    language: Short | None = None


@command
class Remember(_ContextCommand):
    name: ClassVar[str] = "remember"
    text: Text
    kind: MemoryKind
    session_id: Short | None = None
    expires_at: datetime | None = None
    visibility: Visibility = Visibility.SHARED
    agent: AgentName | None = None


@command
class Forget(_ContextCommand):
    name: ClassVar[str] = "forget"
    memory_id: Short
    agent: AgentName | None = None


# -- events ------------------------------------------------------------------------------------


@event
class SessionStarted(Event):
    category: ClassVar[str] = "session"
    event_type: ClassVar[str] = "SessionStarted"
    personal_fields: ClassVar[frozenset[str]] = frozenset({"title"})
    session_id: str
    title: str | None = None
    agent: str
    started_at: datetime
    idle_timeout_seconds: float


@event
class ConversationContextUpdated(Event):
    """Only the fields given change; `None` means unchanged."""

    category: ClassVar[str] = "session"
    event_type: ClassVar[str] = "ConversationContextUpdated"
    personal_fields: ClassVar[frozenset[str]] = frozenset({"topic", "mood", "mentioned_goals"})
    session_id: str
    agent: str
    at: datetime
    topic: str | None = None
    mood: str | None = None
    mentioned_runs: list[str] | None = None
    mentioned_goals: ErasableList = None
    idle_timeout_seconds: float | None = Field(
        default=None,
        description="The session's idle timeout, so the last event alone tells "
        "when the session expires (loading a session reads one event, not the conversation).",
    )


@event
class ExchangeRecorded(Event):
    category: ClassVar[str] = "session"
    event_type: ClassVar[str] = "ExchangeRecorded"
    personal_fields: ClassVar[frozenset[str]] = frozenset({"user_message", "ai_response"})
    session_id: str
    exchange_id: str
    agent: str
    visibility: Visibility
    user_message: str
    ai_response: str
    intent: str | None = None
    sentiment: str | None = None
    at: datetime
    idle_timeout_seconds: float | None = Field(
        default=None, description="The session's idle timeout (see ConversationContextUpdated)."
    )


@event
class SessionEnded(Event):
    category: ClassVar[str] = "session"
    event_type: ClassVar[str] = "SessionEnded"
    session_id: str
    agent: str
    at: datetime


@event
class SessionExpired(Event):
    """Recorded by the idle sweeper once a session has had no activity for its idle timeout."""

    category: ClassVar[str] = "session"
    event_type: ClassVar[str] = "SessionExpired"
    session_id: str
    last_activity_at: datetime
    at: datetime


@event
class PreferencesSet(Event):
    """Only the fields given change; `None` means unchanged."""

    category: ClassVar[str] = "prefs"
    event_type: ClassVar[str] = "PreferencesSet"
    personal_fields: ClassVar[frozenset[str]] = frozenset({"coaching_tone"})
    detail_level: DetailLevel | None = None
    max_results: int | None = None
    coaching_tone: str | None = None
    language: str | None = None
    at: datetime


@event
class MemoryRemembered(Event):
    category: ClassVar[str] = "memory"
    event_type: ClassVar[str] = "MemoryRemembered"
    personal_fields: ClassVar[frozenset[str]] = frozenset({"text"})
    memory_id: str
    kind: MemoryKind
    text: str
    session_id: str | None = None
    agent: str
    visibility: Visibility
    expires_at: datetime | None = None
    at: datetime


@event
class MemoryForgotten(Event):
    category: ClassVar[str] = "memory"
    event_type: ClassVar[str] = "MemoryForgotten"
    memory_id: str
    agent: str
    at: datetime


# -- read models -------------------------------------------------------------------------------


@read_model
class ConversationContextView(ReadModel):
    read_model: ClassVar[str] = "context.conversation_context"
    topic: str | None = None
    mood: str | None = None
    mentioned_runs: list[str] = Field(default_factory=list)
    mentioned_goals: list[str] = Field(default_factory=list)
    updated_at: datetime | None = None
    updated_by: str | None = None


@read_model
class SessionView(ReadModel):
    read_model: ClassVar[str] = "context.session"
    session_id: str
    athlete_id: str
    title: str | None = None
    status: SessionStatus
    started_by: str
    agents: list[str] = Field(description="Agents that wrote to the session, first writer first.")
    started_at: datetime
    last_activity_at: datetime
    idle_timeout_seconds: float
    expires_at: datetime | None = Field(
        default=None, description="When the session expires if idle (None once ended/expired)."
    )
    ended_at: datetime | None = None
    exchange_count: int = 0
    context: ConversationContextView = Field(default_factory=ConversationContextView)


@read_model
class ExchangeView(ReadModel):
    read_model: ClassVar[str] = "context.exchange"
    exchange_id: str
    session_id: str
    agent: str
    visibility: Visibility
    user_message: str
    ai_response: str
    intent: str | None = None
    sentiment: str | None = None
    recorded_at: datetime


@read_model
class SessionDetail(ReadModel):
    """What `get_session` and `sessions://{session_id}` return."""

    read_model: ClassVar[str] = "context.session_detail"
    session: SessionView
    recent_exchanges: list[ExchangeView] = Field(description="Oldest first, visible ones only.")


@read_model
class SessionList(ReadModel):
    read_model: ClassVar[str] = "context.session_list"
    sessions: list[SessionView] = Field(description="Newest first.")


@read_model
class PreferencesView(ReadModel):
    read_model: ClassVar[str] = "context.preferences"
    detail_level: DetailLevel = DetailLevel.NORMAL
    max_results: int = 10
    coaching_tone: str | None = None
    language: str = "en"
    updated_at: datetime | None = None


@read_model
class MemoryItemView(ReadModel):
    read_model: ClassVar[str] = "context.memory_item"
    memory_id: str
    kind: MemoryKind
    text: str
    session_id: str | None = None
    agent: str
    visibility: Visibility
    created_at: datetime
    expires_at: datetime | None = None


@read_model
class ForgetReceipt(ReadModel):
    read_model: ClassVar[str] = "context.forget_receipt"
    memory_id: str
    forgotten: bool = True


@read_model
class MemoryMatch(ReadModel):
    read_model: ClassVar[str] = "context.memory_match"
    item_type: ItemType
    id: str = Field(description="memory_id or exchange_id.")
    kind: str = Field(description="A memory kind, or 'exchange'.")
    text: str
    score: float = Field(description="0-100: how well the query's words match (typo-tolerant).")
    session_id: str | None = None
    agent: str
    visibility: Visibility
    created_at: datetime
    expires_at: datetime | None = None


@read_model
class MemorySearchResult(ReadModel):
    read_model: ClassVar[str] = "context.memory_search"
    query: str
    matches: list[MemoryMatch] = Field(description="Best score first, newest first on ties.")


class SearchMemoryQuery(Message):
    """Validated parameters of `search_memory` (a query, not a command: nothing is appended)."""

    query: Text
    limit: int = Field(default=10, ge=1, le=100)
    kind: SearchKind | None = None
    session_id: Short | None = None
