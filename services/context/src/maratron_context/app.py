"""Wiring of the context service: `build_app(settings) -> ServiceApp`."""

from __future__ import annotations

from maratron_service.app import ServiceApp

from maratron_context.handlers import build_bus, utcnow
from maratron_context.projections import projections
from maratron_context.settings import ContextSettings
from maratron_context.sweeper import sweeper


def build_app(settings: ContextSettings) -> ServiceApp:
    bus = build_bus(settings.idle_timeout_seconds, utcnow)
    return ServiceApp(
        settings, bus, projections(bus.registry), tasks=[sweeper(settings.sweep_interval_s, utcnow)]
    )
