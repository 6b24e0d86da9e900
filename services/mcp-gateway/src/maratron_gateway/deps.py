"""`GatewayDeps`: what every tool module receives in `register(mcp, deps)`.

Built once per process by `server.build_gateway`; its connections (NATS, Redis) open in the
server lifespan, so tools read them at call time (`deps.redis`, `deps.commands`, ...), never at
registration time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import nats
import redis.asyncio as aioredis
from fastmcp.tools.base import ToolResult
from maratron_access.control import AccessControl
from maratron_contracts.envelope import Actor
from maratron_contracts.registry import load_all
from maratron_eventstore import EventStore
from maratron_projections import Keys
from maratron_runs.queries import RunsQueries
from maratron_service.client import CommandClient

from maratron_gateway.auth import ActorResolver
from maratron_gateway.ratelimit import RateLimiter
from maratron_gateway.security.denials import DenialRecorder
from maratron_gateway.settings import GatewaySettings

if TYPE_CHECKING:
    from nats.aio.client import Client as NatsClient

OutputHook = Callable[[Actor, str, ToolResult], Awaitable[ToolResult]]
"""Post-processes a successful tool result: (actor, tool name, result) -> result."""


class NotStarted(RuntimeError):
    """A connection was used before the gateway lifespan opened it."""


@dataclass
class GatewayDeps:
    settings: GatewaySettings
    actors: ActorResolver
    keys: Keys
    denials: DenialRecorder
    """Background audit of refused calls (security layer)."""
    output_hooks: list[OutputHook] = field(default_factory=list)
    """Per-athlete output post-processing (preferences); applied by `OutputHookMiddleware`."""

    _nats: NatsClient | None = None
    _redis: aioredis.Redis | None = None
    _commands: CommandClient | None = None
    _runs: RunsQueries | None = None
    _store: EventStore | None = None
    _access: AccessControl | None = None
    _limiter: RateLimiter | None = None

    @classmethod
    def create(cls, settings: GatewaySettings, *, stdio: bool = False) -> GatewayDeps:
        deps: GatewayDeps
        deps = cls(
            settings=settings,
            actors=ActorResolver(settings.stdio_subject if stdio else None),
            keys=Keys(settings.namespace),
            denials=DenialRecorder(
                lambda: deps.access, settings.replica_id, settings.denial_audit_concurrency
            ),
        )
        return deps

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        s = self.settings
        self._redis = aioredis.Redis.from_url(s.redis_url, decode_responses=False)
        self._nats = await nats.connect(
            s.nats_url, name=f"{s.service_name}-{s.replica_id}", max_reconnect_attempts=-1
        )
        self._commands = CommandClient(
            self._nats, s.namespace, s.replica_id, deadline_s=s.command_timeout_s
        )
        self._runs = RunsQueries(self._redis, self.keys)
        # access context (API keys, grants, denials): its events live in the event store
        self._store = await EventStore.connect(
            s.database_url, namespace=s.namespace, registry=load_all(), max_size=4
        )
        await self._store.migrate()
        self._access = AccessControl(self._store, self._redis, self.keys)
        self._limiter = RateLimiter(self._redis, s.namespace, s.rate_limits())

    async def stop(self) -> None:
        await self.denials.drain()
        if self._store is not None:
            await self._store.close()
        self._store = self._access = self._limiter = None
        if self._nats is not None:
            await self._nats.drain()
        if self._redis is not None:
            await self._redis.aclose()
        self._nats = self._redis = self._commands = self._runs = None

    # -- accessors ----------------------------------------------------------------------------
    @property
    def nats(self) -> NatsClient:
        if self._nats is None:
            raise NotStarted("NATS is not connected (gateway not started)")
        return self._nats

    @property
    def redis(self) -> aioredis.Redis:
        if self._redis is None:
            raise NotStarted("Redis is not connected (gateway not started)")
        return self._redis

    @property
    def commands(self) -> CommandClient:
        if self._commands is None:
            raise NotStarted("command client not started")
        return self._commands

    @property
    def runs(self) -> RunsQueries:
        if self._runs is None:
            raise NotStarted("runs queries not started")
        return self._runs

    @property
    def access(self) -> AccessControl:
        if self._access is None:
            raise NotStarted("access control not started")
        return self._access

    @property
    def limiter(self) -> RateLimiter:
        if self._limiter is None:
            raise NotStarted("rate limiter not started")
        return self._limiter

    def actor(self) -> Actor:
        """The acting Actor of the current request (token subject; stdio subject locally)."""
        return self.actors.current()
