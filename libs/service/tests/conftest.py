"""Fixtures: the counter service running in this event loop on a fresh namespace."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from maratron_service.app import ServiceApp
from maratron_service.settings import Settings
from maratron_service.testing import app_in_namespace
from maratron_testing.plugin import StackUrls

from .service_counter_app import build_app


@pytest.fixture
async def counter_app(maratron_stack: StackUrls, namespace: str) -> AsyncIterator[ServiceApp]:
    async with app_in_namespace(
        maratron_stack, build_app, Settings, namespace, service_name="counter"
    ) as app:
        yield app
