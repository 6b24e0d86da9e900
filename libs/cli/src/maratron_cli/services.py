"""The processes `maratron up` runs beside the stack: every service and one gateway."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from maratron_devstack.ports import free_port
from maratron_devstack.process import ManagedProcess
from maratron_devstack.stack import StackUrls
from maratron_devstack.tokens import DEV_AUDIENCE, DEV_ISSUER


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str

    def installed(self) -> bool:
        """Does `python -m <module>` exist (a `__main__` module in the package)?"""
        try:
            return importlib.util.find_spec(f"{self.module}.__main__") is not None
        except ImportError:
            return False


# Start order; they stop in reverse (the gateway first).
SERVICES = (
    ServiceSpec("runs", "maratron_runs"),
    ServiceSpec("context", "maratron_context"),
    ServiceSpec("insights", "maratron_insights"),
    ServiceSpec("gateway", "maratron_gateway"),
)


def service_env(
    base: Mapping[str, str],
    urls: StackUrls,
    *,
    public_key_file: Path,
    gateway_port: int,
    metrics_port: int,
) -> dict[str, str]:
    return {
        **base,
        "NATS_URL": urls.nats_url,
        "DATABASE_URL": urls.database_url,
        "REDIS_URL": urls.redis_url,
        "MARATRON_NAMESPACE": urls.namespace,
        "MARATRON_JWT_PUBLIC_KEY_FILE": str(public_key_file),
        "MARATRON_JWT_ISSUER": DEV_ISSUER,
        "MARATRON_JWT_AUDIENCE": DEV_AUDIENCE,
        "MARATRON_GATEWAY_PORT": str(gateway_port),
        "MARATRON_METRICS_HOST": "127.0.0.1",
        "MARATRON_METRICS_PORT": str(metrics_port),
        "PYTHONUNBUFFERED": "1",
    }


@dataclass(frozen=True)
class RunningService:
    process: ManagedProcess
    probe_url: str  # 200 once it serves: a service's /readyz, the gateway's /healthz


def spawn_service(
    spec: ServiceSpec,
    urls: StackUrls,
    *,
    logs_dir: Path,
    public_key_file: Path,
    gateway_port: int,
) -> RunningService:
    metrics_port = free_port()
    env = service_env(
        os.environ,
        urls,
        public_key_file=public_key_file,
        gateway_port=gateway_port,
        metrics_port=metrics_port,
    )
    args = [sys.executable, "-m", spec.module]
    process = ManagedProcess(spec.name, args, logs_dir / f"{spec.name}.log", env=env).start()
    if spec.name == "gateway":
        return RunningService(process, f"http://127.0.0.1:{gateway_port}/healthz")
    return RunningService(process, f"http://127.0.0.1:{metrics_port}/readyz")
