"""Observability fixtures: the runs service AND the gateway in this process, sharing one
OpenTelemetry tracer provider (spans of every hop land in one in-memory exporter) and one
Prometheus registry.

Fixtures:
  spans  (session)  the `InMemorySpanExporter` attached to the process's tracer provider
  world  (module)   `World`: the runs `ServiceApp` (the insights service runs beside it, fed
                    by the runs service's relay), the gateway's base URL (uvicorn on a free
                    loopback port in this event loop) and `connect(subject)` -> fastmcp Client;
                    a fresh namespace, dropped afterwards; read tools are limited to
                    READ_LIMIT calls per principal (writes keep their default limit)
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastmcp import Client
from maratron_devstack.ports import free_port
from maratron_devstack.tokens import KeyPair, mint_token
from maratron_gateway.server import build_app as build_gateway_app
from maratron_gateway.settings import GatewaySettings
from maratron_insights.app import build_app as build_insights_app
from maratron_insights.settings import InsightsSettings
from maratron_runs.app import build_app as build_runs_app
from maratron_runs.settings import RunsSettings
from maratron_service.app import ServiceApp
from maratron_service.testing import drop_namespace, running_app, settings_for
from maratron_testing.plugin import StackUrls, new_namespace
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

START_TIMEOUT_S = 120.0
READ_LIMIT = 3
"""Read-tier calls per principal per window on the test gateway."""


@pytest.fixture(scope="session")
def spans() -> InMemorySpanExporter:
    """The process has one global tracer provider (OpenTelemetry allows setting it once): use
    the SDK provider another test installed, or install one; either way add our exporter."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        provider = current
    else:
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    assert trace.get_tracer_provider() is provider, "a non-SDK tracer provider is installed"
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


async def eventually(
    check: Callable[[], Awaitable[bool]] | Callable[[], bool], what: str, limit_s: float = 30.0
) -> None:
    """Wait until `check()` holds (polled); fail naming `what` after `limit_s` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.02)


@dataclass
class World:
    runs: ServiceApp
    gateway: str  # base URL, e.g. http://127.0.0.1:PORT
    keys: KeyPair

    @property
    def mcp_url(self) -> str:
        return f"{self.gateway}/mcp"

    def connect(self, subject: str) -> Client[Any]:
        token = mint_token(self.keys, subject=subject, client_id="observability", ttl_seconds=600)
        return Client(self.mcp_url, auth=token, timeout=60)

    @staticmethod
    def new_subject() -> str:
        return f"obs-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
async def world(maratron_stack: StackUrls, spans: InMemorySpanExporter) -> AsyncIterator[World]:
    namespace = new_namespace()
    keys = KeyPair.generate()
    try:
        with tempfile.TemporaryDirectory(prefix="maratron-obs-") as folder:
            key_file = Path(folder) / "jwt-public.pem"
            key_file.write_bytes(keys.public_pem)
            runs_settings = settings_for(maratron_stack, RunsSettings, namespace)
            insights_settings = settings_for(
                maratron_stack,
                InsightsSettings,
                namespace,
                relay_enabled=False,
                sweep_interval_s=0.5,  # its refresher stops between sweeps
            )
            async with (
                running_app(build_runs_app, runs_settings) as runs,
                running_app(build_insights_app, insights_settings),
            ):
                gateway_settings = settings_for(
                    maratron_stack,
                    GatewaySettings,
                    namespace,
                    jwt_public_key_file=key_file,
                    rate_limit_read=READ_LIMIT,  # low, so a test can drive the rejection counter
                )
                port = free_port()
                server = uvicorn.Server(
                    uvicorn.Config(
                        build_gateway_app(gateway_settings),
                        host="127.0.0.1",
                        port=port,
                        lifespan="on",
                        access_log=False,
                        log_config=None,
                    )
                )
                serving = asyncio.create_task(server.serve())
                try:
                    await eventually(
                        lambda: server.started or serving.done(),
                        "the gateway serves",
                        START_TIMEOUT_S,
                    )
                    if serving.done():
                        serving.result()  # raises the start-up error
                        raise AssertionError("the gateway stopped during start-up")
                    yield World(runs=runs, gateway=f"http://127.0.0.1:{port}", keys=keys)
                finally:
                    server.should_exit = True
                    await serving
    finally:
        await drop_namespace(maratron_stack, namespace)
