"""Wiring of the runs service: command handlers + projections in one `ServiceApp`."""

from __future__ import annotations

from maratron_access.control import AccessControl
from maratron_contracts.access import Grant
from maratron_service.app import ServiceApp

from maratron_runs.handlers import Clock, build_bus, utcnow
from maratron_runs.projections import projections
from maratron_runs.queries import RunsQueries
from maratron_runs.settings import RunsSettings


def build_app(settings: RunsSettings, *, clock: Clock = utcnow) -> ServiceApp:
    app: ServiceApp
    access: list[AccessControl] = []  # built on first use, once the app's connections are open

    def queries() -> RunsQueries:
        return RunsQueries(app.redis, app.keys)

    async def grant_for(coach: str, athlete_id: str) -> Grant | None:
        if not access:
            access.append(AccessControl(app.store, app.redis, app.keys))
        return await access[0].grant_for(coach, athlete_id)

    app = ServiceApp(settings, build_bus(queries, grant_for, clock), projections())
    return app
