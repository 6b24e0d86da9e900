"""Projection runner (events -> Redis read models, idempotent, checkpointed), the read-model
key space, and the JetStream relay."""

from maratron_projections.keys import Keys
from maratron_projections.projection import Projection
from maratron_projections.projector import ProjectionError, Projector
from maratron_projections.relay import Relay, RelayError, ensure_events_stream

__all__ = [
    "Keys",
    "Projection",
    "ProjectionError",
    "Projector",
    "Relay",
    "RelayError",
    "ensure_events_stream",
]
