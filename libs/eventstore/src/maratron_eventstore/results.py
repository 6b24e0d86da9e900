"""Plain value objects returned by the event store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID


@dataclass(frozen=True)
class AppendResult:
    """What an append did; stored per command id and returned again for a retried command."""

    stream_id: str
    stream_version: int
    global_position: int | None
    event_ids: list[UUID]
    data: dict[str, Any] = field(default_factory=dict)
    duplicate: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "stream_id": self.stream_id,
            "stream_version": self.stream_version,
            "global_position": self.global_position,
            "event_ids": [str(e) for e in self.event_ids],
            "data": self.data,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any], *, duplicate: bool = False) -> AppendResult:
        return cls(
            stream_id=raw["stream_id"],
            stream_version=raw["stream_version"],
            global_position=raw["global_position"],
            event_ids=[UUID(e) for e in raw["event_ids"]],
            data=raw.get("data") or {},
            duplicate=duplicate,
        )


@dataclass(frozen=True)
class StreamInfo:
    stream_id: str
    athlete_id: str
    version: int


@dataclass(frozen=True)
class ChainViolation:
    """One event whose stored hash chain does not verify, and why."""

    stream_id: str
    stream_version: int
    global_position: int
    reason: str
