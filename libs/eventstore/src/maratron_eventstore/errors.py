"""Typed errors raised by the event store (subclasses of the shared Maratron error codes)."""

from __future__ import annotations

from maratron_contracts.errors import Conflict, NotFound


class WrongExpectedVersion(Conflict):
    """The stream is not at the version the writer decided on: reload and decide again."""


class StreamOwnershipError(NotFound):
    """The stream belongs to another athlete. Worded as "not found" so it reveals nothing."""
