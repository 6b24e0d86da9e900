"""The stack: embedded servers for every *_URL variable that is unset, external ones otherwise.

    with open_stack(data_dir) as stack:       # reads NATS_URL / DATABASE_URL / REDIS_URL
        stack.urls.nats_url, stack.urls.database_url, stack.urls.redis_url

Data layout (one folder, kept across restarts): `nats/` (JetStream store), `postgres/`
(cluster), `redis/` (append-only file), `logs/<name>.log`, `keys/` (JWT signing keys).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

from maratron_devstack.external import check_reachable, external_urls
from maratron_devstack.nats_server import EmbeddedNats
from maratron_devstack.postgres_server import EmbeddedPostgres
from maratron_devstack.process import ManagedProcess, StartError, stop_all, wait_until
from maratron_devstack.redis_server import EmbeddedRedis

DEFAULT_NAMESPACE = "maratron"
READY_TIMEOUT = 30.0
SPAWN_ATTEMPTS = 3


@dataclass(frozen=True)
class StackUrls:
    nats_url: str
    database_url: str
    redis_url: str
    namespace: str


def new_namespace(prefix: str = "t") -> str:
    """A random namespace (`t` + 10 hex digits) for an isolated test session or test."""
    return f"{prefix}{secrets.token_hex(5)}"


class _Server(Protocol):
    name: str
    process: ManagedProcess | None

    @property
    def url(self) -> str: ...
    def spawn(self) -> None: ...
    def ready(self) -> bool: ...


class StackLocked(RuntimeError):
    """Another process already runs an embedded stack on this data folder."""


class EmbeddedStack:
    """Embedded NATS / Postgres / Redis on free loopback ports, data under `data_dir`.

    `servers` selects which to run (default all three). `durable=False` trades crash safety
    for speed (test sessions); `ephemeral=True` deletes the data when the stack stops.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        servers: tuple[str, ...] = ("nats", "postgres", "redis"),
        durable: bool = True,
        ephemeral: bool = False,
        notice: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.logs_dir = self.data_dir / "logs"
        self.ephemeral = ephemeral
        self.nats = EmbeddedNats(self.data_dir / "nats", self.logs_dir / "nats.log")
        self.postgres = EmbeddedPostgres(
            self.data_dir / "postgres", self.logs_dir / "postgres.log",
            durable=durable, notice=notice,
        )  # fmt: skip
        self.redis = EmbeddedRedis(
            self.data_dir / "redis", self.logs_dir / "redis.log", persist=not ephemeral
        )
        known: dict[str, _Server] = {"nats": self.nats, "postgres": self.postgres,
                                     "redis": self.redis}  # fmt: skip
        self.servers: list[_Server] = [known[name] for name in servers]
        self._lock: IO[str] | None = None
        self.startup_seconds: dict[str, float] = {}

    @property
    def processes(self) -> list[ManagedProcess]:
        return [s.process for s in self.servers if s.process is not None]

    def _acquire_lock(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        lock = (self.data_dir / "stack.lock").open("a+")  # truncated only once it is ours
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise StackLocked(
                f"another maratron stack is running on {self.data_dir} (stop it first, "
                "or set MARATRON_DATA_DIR to another folder)"
            ) from None
        lock.truncate(0)
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        self._lock = lock

    def start(self) -> EmbeddedStack:
        """Start the selected servers concurrently; return when every one is ready."""
        if not self.servers:
            return self
        self._acquire_lock()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        began = time.monotonic()
        for server in self.servers:
            try:
                if server is self.postgres:
                    self.postgres.initdb()  # NATS and Redis boot meanwhile
                server.spawn()
            except OSError as exc:  # a missing binary, an unwritable data folder
                raise StartError(f"{server.name} could not be started: {exc}") from exc
        for server in self.servers:
            self._await_ready(server)
            self.startup_seconds[server.name] = time.monotonic() - began
        if self.postgres in self.servers:
            self.postgres.ensure_database()

    @staticmethod
    def _await_ready(server: _Server) -> None:
        """Wait for `server`; respawn it (new ports) when it exited early, e.g. because another
        process took its free port between the check and the bind."""
        for attempt in range(1, SPAWN_ATTEMPTS + 1):
            process = server.process
            assert process is not None
            if wait_until(server.ready, timeout=READY_TIMEOUT, alive=process.alive):
                return
            if process.alive() or attempt == SPAWN_ATTEMPTS:
                state = "is not ready" if process.alive() else "exited"
                raise StartError(
                    f"{server.name} {state} (log: {process.log_path}):\n{process.log_tail()}"
                )
            process.stop()
            server.spawn()

    def urls(self) -> dict[str, str]:
        """{variable: url} of the running embedded servers."""
        variables = {"nats": "NATS_URL", "postgres": "DATABASE_URL", "redis": "REDIS_URL"}
        return {variables[s.name]: s.url for s in self.servers}

    def stop(self, grace: float = 10.0) -> None:
        stop_all(self.processes, grace)
        if self._lock is not None:
            self._lock.close()
            self._lock = None
        if self.ephemeral:
            self.remove_data()

    def remove_data(self) -> None:
        """Delete every file of this stack (the data folder and a /var/tmp fallback)."""
        shutil.rmtree(self.data_dir, ignore_errors=True)
        if self.postgres.cluster_dir.parent != self.data_dir:
            shutil.rmtree(self.postgres.cluster_dir.parent, ignore_errors=True)

    def __enter__(self) -> EmbeddedStack:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


@dataclass
class RunningStack:
    urls: StackUrls
    embedded: EmbeddedStack
    external: dict[str, str] = field(default_factory=dict)  # {variable: url} given by the env


@contextlib.contextmanager
def open_stack(
    data_dir: Path,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    env: Mapping[str, str] | None = None,
    durable: bool = True,
    ephemeral: bool = False,
    notice: Callable[[str], None] = lambda _: None,
) -> Iterator[RunningStack]:
    """External servers for the *_URL variables set in `env` (checked: `Unreachable`),
    embedded ones for the rest; everything embedded stops when the block exits."""
    given = external_urls(env)
    check_reachable(given)
    wanted = {"NATS_URL": "nats", "DATABASE_URL": "postgres", "REDIS_URL": "redis"}
    servers = tuple(name for variable, name in wanted.items() if variable not in given)
    embedded = EmbeddedStack(
        data_dir, servers=servers, durable=durable, ephemeral=ephemeral, notice=notice
    )
    with embedded:
        urls = {**embedded.urls(), **given}
        yield RunningStack(
            StackUrls(urls["NATS_URL"], urls["DATABASE_URL"], urls["REDIS_URL"], namespace),
            embedded,
            given,
        )
