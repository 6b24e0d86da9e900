"""Settings of the insights service (env `MARATRON_*`, see `maratron_service.settings`)."""

from __future__ import annotations

from maratron_service.settings import Settings
from pydantic import Field


class InsightsSettings(Settings):
    service_name: str = "insights"
    read_model_version: str = Field(
        default="live", description="Key-space version of the read models (replays use another)."
    )
    consumer_batch: int = Field(default=200, ge=1, le=1000, description="Events per fetch.")
    consumer_max_deliver: int = Field(default=5, ge=1, description="Attempts before parking.")
    consumer_backoff_s: tuple[float, ...] = Field(
        default=(0.2, 1.0, 5.0, 30.0), description="NAK delays by delivery attempt."
    )
    catch_up_from_store: bool = Field(
        default=True,
        description="On start, project from the event store too: JetStream keeps events for a "
        "limited time, Postgres since the beginning.",
    )
    sweep_interval_s: float = Field(
        default=5.0, gt=0, description="How often documents left dirty are recomputed."
    )

    rollover_interval_s: float = Field(
        default=60.0, gt=0, description="How often documents of a past local day are redone."
    )

    @property
    def durable(self) -> str:
        """Durable consumer name: one per namespace and read-model version."""
        return f"{self.namespace}-insights-{self.read_model_version}"
