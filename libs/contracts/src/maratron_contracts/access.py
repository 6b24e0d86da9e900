"""Access bounded context: API keys, coach grants and the audit of denied calls.

It is executed by the gateway (and the `maratron keys` operator commands) through
`maratron_access`; there is no separate service.

Streams:
  apikey:{key_id}       ApiKeyIssued, ApiKeyRevoked          owner: the key's subject
  grants:{athlete_id}   AccessGranted, AccessRevoked         owner: the athlete who grants
  denials:{principal}   CallRejected                         owner: the principal (or "anonymous")
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import Field

from maratron_contracts.messages import Event, ReadModel
from maratron_contracts.registry import event, read_model, upcaster


class GrantScope(StrEnum):
    READ = "read"
    READ_WRITE = "read_write"


class Scope(StrEnum):
    """OAuth-style scopes checked per tool by the gateway."""

    RUNS_READ = "runs:read"
    RUNS_WRITE = "runs:write"
    CONTEXT_READ = "context:read"
    CONTEXT_WRITE = "context:write"
    INSIGHTS_READ = "insights:read"
    ADMIN = "admin"


class DenialReason(StrEnum):
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    INSUFFICIENT_SCOPE = "insufficient_scope"
    RATE_LIMITED = "rate_limited"
    INVALID_INPUT = "invalid_input"


@event
class ApiKeyIssued(Event):
    """v2: `scopes` and `roles` are lists. v1 (before roles existed) stored one OAuth-style
    space-separated `scope` string; `_api_key_issued_v1_to_v2` upcasts it on every read."""

    category: ClassVar[str] = "access"
    event_type: ClassVar[str] = "ApiKeyIssued"
    schema_version: ClassVar[int] = 2
    personal_fields: ClassVar[frozenset[str]] = frozenset({"name"})

    key_id: str = Field(description="Public part of the key, shown in listings.")
    subject: str = Field(description="The principal the key acts as.")
    scopes: list[str]
    roles: list[str] = Field(default_factory=list)
    secret_sha256: str = Field(
        description="SHA-256 of the secret part; the key itself is never stored."
    )
    name: str | None = None
    expires_at: datetime | None = None


@upcaster("ApiKeyIssued", 1)
def _api_key_issued_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    scope = data.pop("scope", "") or ""
    data["scopes"] = sorted(set(scope.split()))
    data.setdefault("roles", [])
    return data


@event
class ApiKeyRevoked(Event):
    category: ClassVar[str] = "access"
    event_type: ClassVar[str] = "ApiKeyRevoked"

    key_id: str


@event
class AccessGranted(Event):
    category: ClassVar[str] = "access"
    event_type: ClassVar[str] = "AccessGranted"

    athlete_id: str
    coach: str
    scope: GrantScope
    expires_at: datetime | None = None


@event
class AccessRevoked(Event):
    category: ClassVar[str] = "access"
    event_type: ClassVar[str] = "AccessRevoked"

    athlete_id: str
    coach: str


@event
class CallRejected(Event):
    """A call the gateway refused: bad token, forbidden, rate-limited or invalid input."""

    category: ClassVar[str] = "audit"
    event_type: ClassVar[str] = "CallRejected"

    principal: str = Field(
        description="Token subject, or 'anonymous' when there was no valid token."
    )
    client_id: str | None = None
    replica: str | None = None
    tool: str | None = Field(default=None, description="Tool, resource or HTTP route called.")
    reason: DenialReason
    message: str


@read_model
class ApiKeyInfo(ReadModel):
    read_model: ClassVar[str] = "access.api_key"

    key_id: str
    subject: str
    scopes: list[str]
    roles: list[str] = Field(default_factory=list)
    name: str | None = None
    created_at: datetime
    expires_at: datetime | None = None
    revoked: bool = False


@read_model
class Grant(ReadModel):
    read_model: ClassVar[str] = "access.grant"

    athlete_id: str
    coach: str
    scope: GrantScope
    granted_at: datetime
    expires_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now


@read_model
class GrantList(ReadModel):
    read_model: ClassVar[str] = "access.grant_list"

    given: list[Grant] = Field(description="Coaches you allowed to see your data.")
    received: list[Grant] = Field(description="Athletes who allowed you to see theirs.")


@read_model
class Denial(ReadModel):
    read_model: ClassVar[str] = "access.denial"

    at: datetime
    principal: str
    client_id: str | None = None
    replica: str | None = None
    tool: str | None = None
    reason: DenialReason
    message: str
