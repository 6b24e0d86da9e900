"""Refused calls: the `Denied` error, classification of other refusals, and the audit writer.

Every refusal (bad token, forbidden, insufficient scope, rate-limited, invalid input) is
recorded with `AccessControl.record_denial` by a `DenialRecorder`: fire-and-forget tasks with
bounded concurrency, so the caller's answer never waits on Postgres and a flood of bad calls
cannot queue unbounded work (beyond the bound new denials are dropped and counted).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from fastmcp.exceptions import ToolError
from fastmcp.exceptions import ValidationError as FastMCPValidationError
from maratron_access.control import AccessControl
from maratron_contracts.access import DenialReason
from maratron_contracts.errors import Forbidden, RateLimited, Unauthorized, ValidationFailed
from prometheus_client import Counter
from pydantic import ValidationError as PydanticValidationError

log = logging.getLogger(__name__)

DENIALS = Counter(
    "maratron_gateway_denials_total", "Calls refused by the gateway, by reason.", ["reason"]
)
DENIALS_DROPPED = Counter(
    "maratron_gateway_denials_unrecorded_total",
    "Denials not written to the audit log because too many were being written already.",
)


class Denied(ToolError):
    """A call refused by the gateway's own checks; the message is what the client sees."""

    def __init__(self, reason: DenialReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


_BY_TYPE: tuple[tuple[type[BaseException], DenialReason], ...] = (
    (Forbidden, DenialReason.FORBIDDEN),
    (Unauthorized, DenialReason.UNAUTHORIZED),
    (RateLimited, DenialReason.RATE_LIMITED),
    (ValidationFailed, DenialReason.INVALID_INPUT),
    (PydanticValidationError, DenialReason.INVALID_INPUT),
    (FastMCPValidationError, DenialReason.INVALID_INPUT),
)


def classify(exc: BaseException) -> DenialReason | None:
    """The denial reason of a failed call, looking through `raise ... from` chains (tool
    errors wrap the typed error they translate); None for failures that are not refusals."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, Denied):
            return current.reason
        for kind, reason in _BY_TYPE:
            if isinstance(current, kind):
                return reason
        current = current.__cause__ or current.__context__
    return None


class DenialRecorder:
    """Writes denials in the background; `record` never blocks and never raises."""

    def __init__(
        self, access: Callable[[], AccessControl], replica: str, concurrency: int = 8
    ) -> None:
        self._access = access
        self._replica = replica
        self._limit = concurrency
        self._tasks: set[asyncio.Task[None]] = set()

    def record(
        self,
        reason: DenialReason,
        message: str,
        *,
        principal: str | None,
        client_id: str | None = None,
        tool: str | None = None,
    ) -> None:
        DENIALS.labels(reason.value).inc()
        if len(self._tasks) >= self._limit:
            DENIALS_DROPPED.inc()
            return
        try:
            access = self._access()
        except Exception:  # not started (or stopped): nothing to write to
            DENIALS_DROPPED.inc()
            return
        task = asyncio.get_running_loop().create_task(
            access.record_denial(
                reason,
                message,
                principal=principal,
                client_id=client_id,
                replica=self._replica,
                tool=tool,
            )
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for the denials being written (shutdown, tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
