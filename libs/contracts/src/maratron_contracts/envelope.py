"""Envelopes: what travels around every command, reply and event.

The *payload* of a command or event is a message model from this package (see `messages`);
the envelope carries identity (ids), causality (correlation / causation), who acted (actor),
through which gateway replica, and when.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Self
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field

from maratron_contracts.errors import ErrorCode, MaratronError, error_for


def utcnow() -> datetime:
    return datetime.now(UTC)


class Actor(BaseModel):
    """Who is acting: always derived from the verified token, never from a tool parameter."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subject: str = Field(description="The token subject (an athlete id, a coach, an operator).")
    roles: tuple[str, ...] = Field(default=(), description="Roles from the token, e.g. admin.")
    scopes: tuple[str, ...] = Field(default=(), description="Granted scopes, e.g. runs:write.")
    client_id: str | None = Field(default=None, description="The MCP client / agent that called.")
    auth_method: str | None = Field(default=None, description="jwt, api_key or system.")

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @classmethod
    def system(cls, name: str = "maratron") -> Actor:
        """An internal actor (replay, seed, expiry sweeps)."""
        return cls(subject=f"system:{name}", roles=("system",), auth_method="system")


class CommandEnvelope(BaseModel):
    """A command as sent on `{ns}.cmd.{service}.{name}` by request-reply."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    command_id: UUID = Field(description="Idempotency key: a retry reuses it; applied once.")
    command: str = Field(description="Command name, e.g. log_run.")
    schema_version: int = 1
    athlete_id: str = Field(description="The athlete whose data the command acts on.")
    actor: Actor
    correlation_id: UUID = Field(default_factory=uuid4)
    causation_id: UUID | None = None
    gateway_replica: str | None = None
    issued_at: datetime = Field(default_factory=utcnow)
    payload: dict[str, Any] = Field(default_factory=dict)


class Outcome(BaseModel):
    """What a successful command did."""

    model_config = ConfigDict(extra="forbid")

    stream_id: str | None = None
    stream_version: int | None = None
    global_position: int | None = Field(
        default=None, description="Position of the last appended event, for read-your-writes."
    )
    event_ids: list[UUID] = Field(default_factory=list)
    data: dict[str, Any] = Field(default_factory=dict, description="Command-specific result.")


class ErrorInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: ErrorCode
    message: str = Field(description="What was wrong and how to fix it.")
    details: dict[str, Any] = Field(default_factory=dict)

    def to_exception(self) -> MaratronError:
        return error_for(self.code, self.message, **self.details)


class Reply(BaseModel):
    """The reply to a command: an outcome or a typed error, never both."""

    model_config = ConfigDict(extra="forbid")

    command_id: UUID
    ok: bool
    outcome: Outcome | None = None
    error: ErrorInfo | None = None

    @classmethod
    def success(cls, command_id: UUID, outcome: Outcome) -> Self:
        return cls(command_id=command_id, ok=True, outcome=outcome)

    @classmethod
    def failure(cls, command_id: UUID, error: MaratronError) -> Self:
        return cls(
            command_id=command_id,
            ok=False,
            error=ErrorInfo(code=error.code, message=error.message, details=error.details),
        )

    def unwrap(self) -> Outcome:
        """The outcome, or raise the typed error the service replied with."""
        if self.ok and self.outcome is not None:
            return self.outcome
        if self.error is None:
            raise MaratronError("reply carried neither an outcome nor an error")
        raise self.error.to_exception()


class EventMetadata(BaseModel):
    """Who caused an event, how, and where: stored beside every event for audit."""

    model_config = ConfigDict(frozen=True, extra="allow")

    command_id: UUID | None = None
    correlation_id: UUID | None = None
    causation_id: UUID | None = None
    actor: Actor | None = None
    gateway_replica: str | None = None
    trace_id: str | None = None
    traceparent: str | None = None

    @classmethod
    def for_command(cls, cmd: CommandEnvelope, **extra: Any) -> Self:
        return cls(
            command_id=cmd.command_id,
            correlation_id=cmd.correlation_id,
            causation_id=cmd.command_id,
            actor=cmd.actor,
            gateway_replica=cmd.gateway_replica,
            **extra,
        )


class NewEvent(BaseModel):
    """An event about to be appended (before it has a position)."""

    model_config = ConfigDict(frozen=True)

    event_id: UUID = Field(default_factory=uuid4)
    event_type: str
    schema_version: int = 1
    data: dict[str, Any]


class RecordedEvent(BaseModel):
    """An event as stored in and read back from the event store (already upcast when read)."""

    model_config = ConfigDict(frozen=True)

    global_position: int
    event_id: UUID
    stream_id: str
    stream_version: int
    athlete_id: str
    event_type: str
    schema_version: int
    data: dict[str, Any]
    metadata: EventMetadata
    recorded_at: datetime
    hash: str | None = None

    @property
    def category(self) -> str:
        """The category is the stream id's part before the first ':' (e.g. 'run')."""
        return self.stream_id.split(":", 1)[0]
