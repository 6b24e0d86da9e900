"""A process-level Maratron cluster for the end-to-end suite and the MCP benchmark.

Starts the services (`python -m maratron_runs`, ...) and N gateway replicas
(`python -m maratron_gateway`) as real child processes against one stack and namespace, each
on free loopback ports, waits for their probes by condition, mints tokens with the dev key
pair, and stops everything (children die with the parent too).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from maratron_devstack.ports import free_port
from maratron_devstack.process import ManagedProcess, StartError, wait_until
from maratron_devstack.tokens import KeyPair, load_or_create_keypair, mint_token
from maratron_testing.plugin import StackUrls

START_TIMEOUT_S = 240.0  # imports alone take many seconds on a busy 2-core machine
NO_RATE_LIMITS = {
    # Gateway settings for benchmarks: the limiter still runs (its Redis round trip is part of
    # what they measure) but never refuses.
    "MARATRON_RATE_LIMIT_WRITE": "100000000",
    "MARATRON_RATE_LIMIT_READ": "100000000",
    "MARATRON_RATE_LIMIT_SEARCH": "100000000",
}
SERVICES = {"runs": "maratron_runs", "context": "maratron_context", "insights": "maratron_insights"}


def runnable(module: str) -> bool:
    """Whether `python -m module` exists yet (services land one by one)."""
    try:
        return importlib.util.find_spec(f"{module}.__main__") is not None
    except ModuleNotFoundError:
        return False


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class Cluster:
    nats_url: str
    database_url: str
    redis_url: str
    namespace: str
    folder: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, ManagedProcess] = field(default_factory=dict)
    probes: dict[str, str] = field(default_factory=dict)
    gateway_urls: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.keys: KeyPair = load_or_create_keypair(self.folder / "keys")

    @property
    def public_key_file(self) -> Path:
        return self.folder / "keys" / "jwt-public.pem"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MARATRON_")}
        env.update(
            NATS_URL=self.nats_url,
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            MARATRON_NAMESPACE=self.namespace,
            MARATRON_METRICS_HOST="127.0.0.1",
            MARATRON_JWT_PUBLIC_KEY_FILE=str(self.public_key_file),
            MARATRON_LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        env.update(extra)
        return env

    def _start(
        self, name: str, module: str, probe: str, env: dict[str, str], *, wait: bool = True
    ) -> None:
        proc = ManagedProcess(
            name=name,
            args=[sys.executable, "-m", module],
            log_path=self.folder / "logs" / f"{name}.log",
            env=env,
        ).start()
        self.processes[name] = proc
        self.probes[name] = probe
        if wait:
            self.wait_ready(name)

    def wait_ready(self, name: str) -> None:
        proc, probe = self.processes[name], self.probes[name]
        if not wait_until(lambda: _http_ok(probe), timeout=START_TIMEOUT_S, alive=proc.alive):
            raise StartError(f"{name} did not become ready at {probe}:\n{proc.log_tail(30)}")

    def start_service(
        self, service: str, replica: int = 1, *, wait: bool = True, **env: str
    ) -> None:
        port = free_port()
        self._start(
            f"{service}-{replica}",
            SERVICES[service],
            f"http://127.0.0.1:{port}/readyz",
            self.env(
                MARATRON_SERVICE_NAME=service,
                MARATRON_REPLICA_ID=f"{service}-{replica}",
                MARATRON_METRICS_PORT=str(port),
                **env,
            ),
            wait=wait,
        )

    def start_gateway(self, *, wait: bool = True, **env: str) -> str:
        index = len(self.gateway_urls) + 1
        port = free_port()
        self._start(
            f"gateway-{index}",
            "maratron_gateway",
            f"http://127.0.0.1:{port}/readyz",
            self.env(
                MARATRON_REPLICA_ID=f"gateway-{index}",
                MARATRON_GATEWAY_PORT=str(port),
                **env,
            ),
            wait=wait,
        )
        url = f"http://127.0.0.1:{port}/mcp"
        self.gateway_urls.append(url)
        return url

    def start(
        self, services: Iterable[str] = ("runs", "context", "insights"), gateways: int = 1
    ) -> Cluster:
        """Start the services whose packages are runnable and `gateways` gateway replicas, all
        at once (start-up is mostly imports), then wait until every one is ready."""
        for service in services:
            if runnable(SERVICES[service]):
                self.start_service(service, wait=False)
        for _ in range(gateways):
            self.start_gateway(wait=False)
        for name in self.processes:
            self.wait_ready(name)
        return self

    def stop_process(self, name: str) -> None:
        self.processes[name].stop()

    def restart_process(self, name: str) -> None:
        proc = self.processes[name]
        proc.stop()
        proc.start()
        self.wait_ready(name)

    def stop(self) -> None:
        for proc in reversed(list(self.processes.values())):
            proc.stop()

    def token(self, subject: str, *, roles: Iterable[str] = (), client_id: str = "e2e") -> str:
        return mint_token(
            self.keys, subject=subject, roles=roles, client_id=client_id, ttl_seconds=3600
        )


@contextlib.contextmanager
def running_cluster(
    stack: StackUrls, *, prefix: str, gateways: int, extra_env: dict[str, str] | None = None
) -> Iterator[Cluster]:
    """A started cluster on `stack` (its namespace), in a temporary folder; stopped on exit."""
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        running = Cluster(
            nats_url=stack.nats_url,
            database_url=stack.database_url,
            redis_url=stack.redis_url,
            namespace=stack.namespace,
            folder=Path(folder),
            extra_env=extra_env or {},
        )
        try:
            yield running.start(gateways=gateways)
        finally:
            running.stop()
