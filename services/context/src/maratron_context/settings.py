"""Settings of the context service (env `MARATRON_*`, URLs as plain NATS_URL etc.)."""

from __future__ import annotations

from maratron_service.settings import Settings
from pydantic import Field


class ContextSettings(Settings):
    service_name: str = "context"
    session_idle_minutes: float = Field(
        default=60.0, gt=0, description="Idle time after which a session expires (fractions ok)."
    )
    session_idle_seconds: float | None = Field(
        default=None, gt=0, description="Overrides session_idle_minutes (short test timeouts)."
    )
    sweep_interval_s: float = Field(
        default=5.0, gt=0, description="How often the idle sweeper looks for overdue sessions."
    )

    @property
    def idle_timeout_seconds(self) -> float:
        if self.session_idle_seconds is not None:
            return self.session_idle_seconds
        return self.session_idle_minutes * 60.0
