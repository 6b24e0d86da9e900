"""Fixtures: the counter service running in this event loop on a fresh namespace."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from maratron_service.app import ServiceApp
from maratron_service.settings import Settings
from maratron_service.testing import drop_namespace, running_app, settings_for
from maratron_testing.plugin import StackUrls

from .service_counter_app import build_app


@pytest.fixture
async def counter_app(maratron_stack: StackUrls, namespace: str) -> AsyncIterator[ServiceApp]:
    settings = settings_for(maratron_stack, Settings, namespace, service_name="counter")
    try:
        async with running_app(build_app, settings) as app:
            yield app
    finally:
        await drop_namespace(maratron_stack, namespace)
