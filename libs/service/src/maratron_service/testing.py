"""Test helpers: run a `ServiceApp` in the current event loop against a test stack.

async with app_in_namespace(maratron_stack, build_app, RunsSettings, namespace) as app:
    outcome = await app.client.send("runs", LogRun(...), athlete_id, actor)
# the namespace is dropped on exit (running_app + drop_namespace by hand do the same in steps)
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol, TypeVar

import asyncpg
import nats
from maratron_contracts.subjects import check_namespace, events_stream_name, redis_prefix
from redis.asyncio import Redis

from maratron_service.app import ServiceApp
from maratron_service.client import CommandClient
from maratron_service.settings import Settings

SettingsT = TypeVar("SettingsT", bound=Settings)


class StackLike(Protocol):
    """What `maratron_testing`'s `maratron_stack` fixture provides."""

    @property
    def nats_url(self) -> str: ...
    @property
    def database_url(self) -> str: ...
    @property
    def redis_url(self) -> str: ...
    @property
    def namespace(self) -> str: ...


def settings_for(
    stack: StackLike,
    settings_cls: type[SettingsT] = Settings,  # type: ignore[assignment]
    namespace: str | None = None,
    **overrides: Any,
) -> SettingsT:
    """Settings pointing at the test stack, isolated in `namespace` (default: the session's),
    with probes on a free loopback port and the relay standby poll fast."""
    values: dict[str, Any] = {
        "nats_url": stack.nats_url,
        "database_url": stack.database_url,
        "redis_url": stack.redis_url,
        "namespace": namespace or stack.namespace,
        "metrics_host": "127.0.0.1",
        "metrics_port": 0,
        "shutdown_grace_s": 5.0,
    }
    values.update(overrides)
    return settings_cls(_env_file=None, **values)  # type: ignore[call-arg]


@contextlib.asynccontextmanager
async def running_app(
    build_app: Callable[[SettingsT], ServiceApp], settings: SettingsT
) -> AsyncIterator[ServiceApp]:
    """Start the app built by `build_app(settings)`; stop it cleanly on exit."""
    app = build_app(settings)
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


@contextlib.asynccontextmanager
async def app_in_namespace(
    stack: StackLike,
    build_app: Callable[[SettingsT], ServiceApp],
    settings_cls: type[SettingsT],
    namespace: str,
    **overrides: Any,
) -> AsyncIterator[ServiceApp]:
    """`running_app` on `settings_for(stack, settings_cls, namespace, **overrides)`, then
    `drop_namespace` (also when the app failed to start): a service fixture in one line."""
    try:
        async with running_app(
            build_app, settings_for(stack, settings_cls, namespace, **overrides)
        ) as app:
            yield app
    finally:
        await drop_namespace(stack, namespace)


def client_of(app: ServiceApp, **options: Any) -> CommandClient:
    """A command client on the app's own NATS connection (options: deadline_s, ...)."""
    return CommandClient(app.nats, app.settings.namespace, app.settings.replica_id, **options)


async def drop_namespace(stack: StackLike, namespace: str) -> None:
    """Remove everything a test created under `namespace`: the Postgres schema, the Redis keys
    and the JetStream events stream (the machine's shared servers stay clean)."""
    check_namespace(namespace)
    conn = await asyncpg.connect(stack.database_url)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {namespace} CASCADE")
    finally:
        await conn.close()
    redis = Redis.from_url(stack.redis_url)
    try:
        async for key in redis.scan_iter(match=f"{redis_prefix(namespace)}*", count=1000):
            await redis.delete(key)
    finally:
        await redis.aclose()
    nc = await nats.connect(stack.nats_url)
    try:
        with contextlib.suppress(Exception):
            await nc.jetstream().delete_stream(events_stream_name(namespace))
    finally:
        await nc.close()
