"""ServiceApp probes, metrics and the background catch-up projector (real stack)."""

from __future__ import annotations

import asyncio
import time

import httpx
from maratron_contracts.envelope import Actor, EventMetadata, NewEvent
from maratron_service.app import ServiceApp
from maratron_service.testing import client_of

from .service_counter_app import Increment


async def test_health_ready_and_metrics(counter_app: ServiceApp) -> None:
    await client_of(counter_app).send(
        "counter", Increment(counter_id="m1"), "a1", Actor(subject="a1")
    )
    base = f"http://127.0.0.1:{counter_app.metrics_port}"
    async with httpx.AsyncClient(base_url=base) as http:
        assert (await http.get("/healthz")).status_code == 200
        ready = await http.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.text == "nats ok\npostgres ok\nredis ok\n"
        metrics = (await http.get("/metrics")).text
        assert 'maratron_command_seconds_count{command="increment",service="counter"}' in metrics
        assert 'maratron_projection_lag_events{projector="counter",service="counter"}' in metrics
        assert "maratron_relay_lag_events" in metrics
        assert (await http.get("/nope")).status_code == 404


async def test_readyz_fails_when_a_dependency_is_gone(counter_app: ServiceApp) -> None:
    await counter_app.redis.aclose()
    counter_app._redis = None  # simulate a lost Redis connection
    checks = await counter_app.check_ready()
    assert checks == {"nats": True, "postgres": True, "redis": False}


async def test_events_appended_elsewhere_are_projected_in_the_background(
    counter_app: ServiceApp,
) -> None:
    """The catch-up projector applies what no inline projection did (e.g. a crash)."""
    await counter_app.store.append(
        "counter:bg",
        "a1",
        [NewEvent(event_type="Incremented", data={"by": 4})],
        expected_version=0,
        metadata=EventMetadata(),
    )
    key = counter_app.keys("counter", "counter:bg")
    deadline = time.monotonic() + 10
    while await counter_app.redis.get(key) != b"4":
        assert time.monotonic() < deadline, "the background projector did not apply the event"
        await asyncio.sleep(0.01)


async def test_the_relay_runs_in_the_app(counter_app: ServiceApp) -> None:
    await client_of(counter_app).send(
        "counter", Increment(counter_id="r1"), "a1", Actor(subject="a1")
    )
    relay = counter_app.relay
    assert relay is not None
    head = await counter_app.store.head()
    deadline = time.monotonic() + 10
    while await relay.checkpoint() < head:
        assert time.monotonic() < deadline, "the relay did not publish the event"
        await asyncio.sleep(0.01)
