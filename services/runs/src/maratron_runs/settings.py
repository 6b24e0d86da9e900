"""Settings of the runs service (everything else comes from maratron_service.Settings)."""

from __future__ import annotations

from maratron_service.settings import Settings
from pydantic import Field


class RunsSettings(Settings):
    service_name: str = Field(default="runs", description="Service name (logs, metrics).")
