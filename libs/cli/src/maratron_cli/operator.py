"""Connections for operator commands (keys, replay, verify, audit, seed).

Where the stack is: NATS_URL / DATABASE_URL / REDIS_URL when set; otherwise the stack that
`maratron up` is running (its state file in the data folder); otherwise a clear error. The
namespace is MARATRON_NAMESPACE, else the running stack's, else the default.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import asyncpg
from maratron_access.control import AccessControl
from maratron_access.projections import AccessProjection
from maratron_contracts.registry import load_all
from maratron_contracts.subjects import DEFAULT_NAMESPACE, check_namespace
from maratron_devstack.paths import data_dir
from maratron_eventstore import EventStore
from maratron_projections import Keys, Projection
from redis.asyncio import Redis

from maratron_cli.errors import CliError

STATE_FILE = "up.json"
VARIABLES = ("NATS_URL", "DATABASE_URL", "REDIS_URL")


@dataclass(frozen=True)
class Target:
    nats_url: str
    database_url: str
    redis_url: str
    namespace: str


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def target() -> Target:
    env = {v: os.environ[v] for v in VARIABLES if os.environ.get(v)}
    namespace = os.environ.get("MARATRON_NAMESPACE")
    if len(env) < len(VARIABLES):
        state_path = data_dir() / STATE_FILE
        state: dict[str, object] = {}
        if state_path.is_file():
            with contextlib.suppress(ValueError):
                state = json.loads(state_path.read_text())
        urls = state.get("urls")
        pid = state.get("pid")
        if not isinstance(urls, dict) or not isinstance(pid, int) or not _alive(pid):
            missing = ", ".join(v for v in VARIABLES if v not in env)
            raise CliError(
                f"no running stack found (looked for {state_path}) and {missing} not set: "
                "start it with `make run` (or `maratron up`) in another terminal, or set "
                "NATS_URL, DATABASE_URL and REDIS_URL"
            )
        env = {**{v: str(urls[v]) for v in VARIABLES}, **env}
        namespace = namespace or str(state.get("namespace") or DEFAULT_NAMESPACE)
    try:
        ns = check_namespace(namespace or DEFAULT_NAMESPACE)
    except ValueError as exc:
        raise CliError(f"MARATRON_NAMESPACE: {exc}") from None
    return Target(env["NATS_URL"], env["DATABASE_URL"], env["REDIS_URL"], ns)


@dataclass
class Connections:
    target: Target
    store: EventStore
    redis: Redis

    @property
    def keys(self) -> Keys:
        return Keys(self.target.namespace)

    def access(self) -> AccessControl:
        return AccessControl(self.store, self.redis, self.keys)


@contextlib.asynccontextmanager
async def connect(where: Target | None = None) -> AsyncIterator[Connections]:
    t = where or target()
    try:
        store = await EventStore.connect(t.database_url, namespace=t.namespace, registry=load_all())
    except (OSError, asyncpg.PostgresError, Exception) as exc:
        raise CliError(f"cannot reach Postgres at DATABASE_URL ({t.database_url}): {exc}") from None
    redis = Redis.from_url(t.redis_url)
    try:
        try:
            await redis.ping()
        except Exception as exc:
            raise CliError(f"cannot reach Redis at REDIS_URL ({t.redis_url}): {exc}") from None
        await store.migrate()
        yield Connections(t, store, redis)
    finally:
        await redis.aclose()
        await store.close()


def all_projections() -> Sequence[Projection]:
    """Every read model of every service: what a replay rebuilds."""
    from maratron_context.projections import projections as context_projections
    from maratron_insights.projections import InsightsProjection
    from maratron_runs.projections import projections as runs_projections

    return [*runs_projections(), *context_projections(), InsightsProjection(), AccessProjection()]
