"""Postgres event store: atomic appends with optimistic concurrency and durable command dedup,
gap-free global reads, LISTEN/NOTIFY subscriptions, hash chains and crypto-shredding."""

from maratron_eventstore.errors import StreamOwnershipError, WrongExpectedVersion
from maratron_eventstore.locks import advisory_key
from maratron_eventstore.results import AppendResult, ChainViolation, StreamInfo
from maratron_eventstore.store import EventStore

__all__ = [
    "AppendResult",
    "ChainViolation",
    "EventStore",
    "StreamInfo",
    "StreamOwnershipError",
    "WrongExpectedVersion",
    "advisory_key",
]
