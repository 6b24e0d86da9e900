"""Fixtures of the runs integration tests: the service running in-process on a fresh namespace
of the real stack; everything removed afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from maratron_runs.app import build_app
from maratron_runs.queries import RunsQueries
from maratron_runs.settings import RunsSettings
from maratron_runs.testing import RunsWorld
from maratron_service.testing import client_of, drop_namespace, running_app, settings_for
from maratron_testing.plugin import StackUrls, new_namespace


@pytest.fixture(scope="module")
async def runs_world(maratron_stack: StackUrls) -> AsyncIterator[RunsWorld]:
    namespace = new_namespace("r")
    settings = settings_for(maratron_stack, RunsSettings, namespace)
    try:
        async with running_app(build_app, settings) as app:
            yield RunsWorld(
                app, client_of(app, deadline_s=20.0), RunsQueries(app.redis, app.keys), namespace
            )
    finally:
        await drop_namespace(maratron_stack, namespace)
