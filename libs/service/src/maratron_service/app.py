"""`ServiceApp`: one service process - connections, command loop, projector, relay, probes.

    def build_app(settings: RunsSettings) -> ServiceApp:
        return ServiceApp(settings, bus, projections=[RecentRuns(), ...])

    if __name__ == "__main__":
        run_service(build_app, RunsSettings)

`start()` connects the store (and migrates it), Redis and NATS (FastStream broker), subscribes
the commands, starts the catch-up projector and a (standby) relay in the background, and serves
`/healthz`, `/readyz` and `/metrics`. `stop()` drains: command subscriptions first (in-flight
commands finish and reply), then background tasks, then pools. `serve()` runs until SIGTERM or
SIGINT.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from faststream.nats import NatsBroker
from maratron_contracts.registry import REGISTRY, Registry, load_all
from maratron_eventstore import EventStore
from maratron_projections import Keys, Projection, Projector, Relay
from maratron_projections.tasks import cancel_and_wait
from nats.aio.client import Client as NATS
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.asyncio import Redis

from maratron_service import logging as jsonlog
from maratron_service import tracing
from maratron_service.client import CommandClient
from maratron_service.commands import CommandBus, CommandProcessor
from maratron_service.http import HttpServer, Response
from maratron_service.metrics import PROJECTION_LAG, RELAY_ACTIVE, RELAY_LAG
from maratron_service.settings import Settings

log = logging.getLogger(__name__)

Setup = Callable[["ServiceApp"], Awaitable[None] | None]
"""Called once connections are open and before the broker starts: register extra subscribers
(e.g. JetStream pull consumers) on `app.broker`, open extra resources."""
BackgroundTask = Callable[["ServiceApp"], Awaitable[None]]
"""A long-running coroutine (sweeps, consumers); restarted after a failure, cancelled on stop."""

_RESTART_DELAY_S = 1.0


class NotStarted(RuntimeError):
    """A connection of the app was used before `start()` (or after `stop()`)."""


class ServiceApp:
    def __init__(
        self,
        settings: Settings,
        bus: CommandBus | None = None,
        projections: Sequence[Projection] = (),
        *,
        setups: Sequence[Setup] = (),
        tasks: Sequence[BackgroundTask] = (),
        registry: Registry | None = None,
        relay: bool | None = None,
    ) -> None:
        self.settings = settings
        self.bus = bus
        self.projections = tuple(projections)
        self.setups = tuple(setups)
        self.tasks = tuple(tasks)
        self.registry = registry or (bus.registry if bus is not None else REGISTRY)
        if self.registry is REGISTRY:
            load_all()  # every context's events known: the store upcasts what it reads
        self.relay_enabled = settings.relay_enabled if relay is None else relay
        self.keys = Keys(settings.namespace)
        self.ready = False
        self._store: EventStore | None = None
        self._redis: Redis | None = None
        self._broker: NatsBroker | None = None
        self._nats: NATS | None = None
        self.projector: Projector | None = None
        self.processor: CommandProcessor | None = None
        self.relay: Relay | None = None
        self.client: CommandClient | None = None
        self.http: HttpServer | None = None
        self._background: list[asyncio.Task[None]] = []

    # -- connections ------------------------------------------------------------------------
    @property
    def store(self) -> EventStore:
        return _started(self._store, "event store")

    @property
    def redis(self) -> Redis:
        return _started(self._redis, "Redis")

    @property
    def broker(self) -> NatsBroker:
        return _started(self._broker, "NATS broker")

    @property
    def nats(self) -> NATS:
        return _started(self._nats, "NATS")

    @property
    def metrics_port(self) -> int:
        return _started(self.http, "HTTP server").port or 0

    @property
    def service(self) -> str:
        return self.settings.service_name

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        s = self.settings
        try:
            self._store = await EventStore.connect(
                s.database_url,
                namespace=s.namespace,
                registry=self.registry,
                max_size=s.db_pool_max,
            )
            await self._store.migrate()
            self._redis = Redis.from_url(s.redis_url)
            await self._redis.ping()
            self.projector = Projector(
                self._redis, self._store, self.projections, self.keys, name=s.service_name
            )
            self._broker = NatsBroker(
                s.nats_url,
                name=f"{s.service_name}-{s.replica_id}",
                logger=None,
                graceful_timeout=s.shutdown_grace_s,
                max_reconnect_attempts=-1,
            )
            self._nats = await self._broker.connect()
            if self.bus is not None:
                self.processor = self.bus.processor(
                    self._store, self.projector, namespace=s.namespace
                )
                await self.processor.subscribe_nats(self._nats, max_workers=s.command_concurrency)
            for setup in self.setups:
                result = setup(self)
                if result is not None:
                    await result
            await self._broker.start()
            self.client = CommandClient(
                self._nats, s.namespace, s.replica_id, deadline_s=s.command_timeout_s
            )
            if self.projections:
                self._spawn("projector", lambda _: self._projector_run())
            if self.relay_enabled:
                self.relay = Relay(self._store, self._nats, s.namespace)
                self._spawn("relay", lambda _: self._relay_run())
            for i, task in enumerate(self.tasks):
                self._spawn(f"task-{i}", task)
            self.http = HttpServer(
                s.metrics_host,
                s.metrics_port,
                {"/healthz": self._healthz, "/readyz": self._readyz, "/metrics": self._metrics},
            )
            await self.http.start()
        except BaseException:
            await self.stop()
            raise
        self.ready = True
        log.info(
            "service %s started (namespace %s, metrics on port %s)",
            s.service_name,
            s.namespace,
            self.http.port,
        )

    async def stop(self) -> None:
        """Drain commands, stop background work, close pools. Safe to call twice."""
        self.ready = False
        grace = self.settings.shutdown_grace_s
        if self._broker is not None:
            # 1. Stop taking messages; FastStream waits (graceful_timeout) for handlers that are
            #    already consuming, and their replies still go out on the open connection.
            for subscriber in self._broker.subscribers:
                with contextlib.suppress(Exception):
                    await subscriber.stop()
        if self.processor is not None:
            await self.processor.unsubscribe_nats()  # commands come straight from nats-py
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.processor.wait_idle(), grace)
        # 2. Background work (projector, relay, tasks) while NATS and the pools still work.
        for task in self._background:
            task.cancel()
        for task in self._background:
            await cancel_and_wait(task)
        self._background.clear()
        # 3. Drain and close the NATS connection.
        if self._broker is not None:
            with contextlib.suppress(Exception):
                await self._broker.stop()
        if self.http is not None:
            await self.http.stop()
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.aclose()
        if self._store is not None:
            with contextlib.suppress(Exception):
                await self._store.close()
        self._broker = self._nats = self._redis = self._store = None
        RELAY_ACTIVE.labels(self.service, self.settings.replica_id).set(0)

    async def serve(self) -> None:
        """Start, run until SIGTERM/SIGINT, stop gracefully."""
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        try:
            await self.start()
            await stopping.wait()
            log.info("service %s stopping", self.service)
        finally:
            await self.stop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)

    # -- background -------------------------------------------------------------------------
    def _spawn(self, name: str, factory: BackgroundTask) -> None:
        async def supervise() -> None:
            while True:
                try:
                    await factory(self)
                    return
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("background task %s failed; restarting", name)
                await asyncio.sleep(_RESTART_DELAY_S)

        self._background.append(asyncio.create_task(supervise(), name=f"{self.service}-{name}"))

    async def _projector_run(self) -> None:
        assert self.projector is not None
        await self.projector.run()

    async def _relay_run(self) -> None:
        assert self.relay is not None
        await self.relay.run()

    # -- HTTP -------------------------------------------------------------------------------
    async def _healthz(self) -> Response:
        return Response(200, b"ok\n")

    async def check_ready(self) -> dict[str, bool]:
        """Reachability of NATS, Postgres and Redis (each check bounded to one second)."""

        async def probe(check: Callable[[], Awaitable[Any]]) -> bool:
            try:
                await asyncio.wait_for(check(), 1.0)
            except Exception:
                return False
            return True

        nats_ok = self._nats is not None and self._nats.is_connected
        pg_ok = self._store is not None and await probe(
            lambda: self.store.pool.fetchval("SELECT 1")
        )
        redis_ok = self._redis is not None and await probe(self.redis.ping)
        return {"nats": nats_ok, "postgres": pg_ok, "redis": redis_ok}

    async def _readyz(self) -> Response:
        checks = await self.check_ready()
        ok = self.ready and all(checks.values())
        text = "".join(f"{k} {'ok' if v else 'unreachable'}\n" for k, v in checks.items())
        return Response(200 if ok else 503, text.encode())

    async def _metrics(self) -> Response:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._update_lag(), 1.0)
        return Response(200, generate_latest(), CONTENT_TYPE_LATEST)

    async def _update_lag(self) -> None:
        head = await self.store.head()
        if self.projector is not None and self.projections:
            lag = head - await self.projector.checkpoint()
            PROJECTION_LAG.labels(self.service, self.projector.name).set(max(lag, 0))
        if self.relay is not None:
            RELAY_ACTIVE.labels(self.service, self.settings.replica_id).set(int(self.relay.active))
            RELAY_LAG.labels(self.service).set(max(head - await self.relay.checkpoint(), 0))


T = TypeVar("T")


def _started(value: T | None, what: str) -> T:
    if value is None:
        raise NotStarted(f"{what} is not connected (service not started)")
    return value


SettingsT = TypeVar("SettingsT", bound=Settings)


def run_service(
    build_app: Callable[[SettingsT], ServiceApp], settings_factory: Callable[[], SettingsT]
) -> None:
    """Entry point of a service's `__main__`: settings from the environment, JSON logs, serve."""
    settings = settings_factory()
    jsonlog.configure(settings.service_name, settings.replica_id, settings.log_level)
    tracing.configure(settings.service_name, settings.replica_id, settings.otel_exporter)
    app = build_app(settings)
    asyncio.run(app.serve())
