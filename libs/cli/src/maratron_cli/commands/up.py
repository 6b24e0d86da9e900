"""`maratron up`: the stack (embedded unless *_URL say otherwise), the schema, a signing key,
every service and one gateway; prints the MCP URL and a development token, then supervises
until Ctrl-C / SIGTERM (or a child dies) and stops everything it started, children first."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import select
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from maratron_contracts.subjects import check_namespace
from maratron_devstack.external import Unreachable, redact
from maratron_devstack.paths import data_dir
from maratron_devstack.ports import free_port, port_is_free
from maratron_devstack.process import ManagedProcess, StartError, stop_all
from maratron_devstack.stack import DEFAULT_NAMESPACE, StackLocked, StackUrls, open_stack
from maratron_devstack.tokens import key_paths, load_or_create_keypair, mint_token

from maratron_cli.errors import CliError
from maratron_cli.services import SERVICES, RunningService, spawn_service

DEFAULT_GATEWAY_PORT = 8765
READY_TIMEOUT = 120.0  # importing a service takes seconds on a busy 2-core machine
STATE_FILE = "up.json"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "up",
        help="start the stack, every service and a gateway",
        description="Start NATS, Postgres and Redis (embedded unless NATS_URL, DATABASE_URL, "
        "REDIS_URL are set), apply the schema, start every service and one gateway, and print "
        "the MCP URL and a development token. Ctrl-C stops everything.",
    )
    parser.set_defaults(handler=run)


def say(message: str) -> None:
    print(message, flush=True)


def notice(message: str) -> None:
    say(f"maratron: {message}")


class Stopper:
    """SIGINT/SIGTERM ask for a stop; SIGCHLD wakes the supervisor to look at its children.

    The handlers only set an attribute: the wake-up goes through `signal.set_wakeup_fd` and a
    pipe. (A handler that calls `threading.Event.set()` deadlocks when the signal lands while
    the main thread holds that Event's lock inside `wait()`: the handler runs on the same
    thread and the lock is not reentrant.)"""

    def __init__(self) -> None:
        self.requested: signal.Signals | None = None
        self._reader, self._writer = os.pipe()
        for fd in (self._reader, self._writer):
            os.set_blocking(fd, False)

    def _on_stop(self, signum: int, _: FrameType | None) -> None:
        self.requested = signal.Signals(signum)

    def _on_child(self, _signum: int, _: FrameType | None) -> None:
        pass  # the wake-up fd already woke `wait`

    @contextmanager
    def installed(self) -> Iterator[Stopper]:
        handlers = {signal.SIGINT: self._on_stop, signal.SIGTERM: self._on_stop,
                    signal.SIGCHLD: self._on_child}  # fmt: skip
        previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
        previous_fd = signal.set_wakeup_fd(self._writer, warn_on_full_buffer=False)
        try:
            yield self
        finally:
            signal.set_wakeup_fd(previous_fd)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            os.close(self._reader)
            os.close(self._writer)

    def wait(self, seconds: float) -> None:
        """Sleep up to `seconds`, less when a signal arrives."""
        ready, _, _ = select.select([self._reader], [], [], seconds)
        if ready:
            with contextlib.suppress(BlockingIOError):
                while os.read(self._reader, 512):
                    pass


def _gateway_port() -> int:
    configured = os.environ.get("MARATRON_GATEWAY_PORT")
    if configured:
        if not configured.isdigit():
            raise CliError(f"MARATRON_GATEWAY_PORT={configured!r} is not a port number")
        return int(configured)
    return DEFAULT_GATEWAY_PORT if port_is_free(DEFAULT_GATEWAY_PORT) else free_port()


def _apply_schema(urls: StackUrls) -> str:
    try:
        from maratron_eventstore import EventStore
    except ImportError:
        return "schema skipped: maratron_eventstore.EventStore is not available yet"

    async def migrate() -> None:
        store = await EventStore.connect(urls.database_url, namespace=urls.namespace)
        try:
            await store.migrate()
        finally:
            await store.close()

    try:
        asyncio.run(migrate())
    except Exception as exc:
        target = redact(urls.database_url)
        raise CliError(f"applying the schema to {target} failed: {exc}") from None
    return f"schema applied (namespace {urls.namespace})"


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _dead(children: list[ManagedProcess]) -> ManagedProcess | None:
    return next((child for child in children if not child.alive()), None)


def _died(child: ManagedProcess) -> CliError:
    return CliError(
        f"{child.name} exited unexpectedly (exit code {child.returncode()}); "
        f"see its log: {child.log_path}"
    )


def _write_state(
    path: Path, processes: list[ManagedProcess], gateway_port: int, urls: StackUrls
) -> None:
    state = {
        "pid": os.getpid(),
        "gateway_port": gateway_port,
        "namespace": urls.namespace,
        "urls": {
            "NATS_URL": urls.nats_url,
            "DATABASE_URL": urls.database_url,
            "REDIS_URL": urls.redis_url,
        },
        "processes": {process.name: process.pid for process in processes},
    }
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(state, indent=2) + "\n")
    partial.replace(path)  # readers never see half a file


def run(args: argparse.Namespace) -> int:
    began = time.monotonic()
    folder = data_dir()
    namespace = os.environ.get("MARATRON_NAMESPACE") or DEFAULT_NAMESPACE
    try:
        check_namespace(namespace)
    except ValueError as exc:
        raise CliError(f"MARATRON_NAMESPACE: {exc}") from None
    gateway_port = _gateway_port()
    stopper = Stopper()
    children: list[ManagedProcess] = []
    state_path = folder / STATE_FILE
    notice(f"data folder {folder}")
    with stopper.installed():
        try:
            with open_stack(folder, namespace=namespace, notice=notice) as stack:
                for variable, url in stack.embedded.urls().items():
                    notice(f"{variable}={url} (embedded)")
                for variable, url in stack.external.items():
                    notice(f"{variable}={redact(url)} (external)")
                notice(f"{_apply_schema(stack.urls)}")
                keys_dir = folder / "keys"
                keys = load_or_create_keypair(keys_dir)
                _, public_key_file = key_paths(keys_dir)
                try:
                    code = _serve(
                        stack.urls, stack.embedded.processes, children, stopper,
                        folder=folder, gateway_port=gateway_port,
                        public_key_file=public_key_file, token=mint_token(keys), began=began,
                    )  # fmt: skip
                finally:
                    # The gateway first (no new requests), then the services together.
                    stop_all([c for c in children if c.name == "gateway"])
                    stop_all([c for c in children if c.name != "gateway"])
                    state_path.unlink(missing_ok=True)
                    notice("stopping the stack")
        except (Unreachable, StackLocked, StartError) as exc:
            raise CliError(str(exc)) from None
    notice("stopped")
    return code


def _serve(
    urls: StackUrls,
    servers: list[ManagedProcess],
    children: list[ManagedProcess],
    stopper: Stopper,
    *,
    folder: Path,
    gateway_port: int,
    public_key_file: Path,
    token: str,
    began: float,
) -> int:
    logs_dir = folder / "logs"
    started: list[RunningService] = []
    for spec in SERVICES:
        if stopper.requested:
            return 0
        if not spec.installed():
            notice(f"{spec.name}: `python -m {spec.module}` not available yet, skipped")
            continue
        service = spawn_service(
            spec, urls, logs_dir=logs_dir, public_key_file=public_key_file,
            gateway_port=gateway_port,
        )  # fmt: skip
        started.append(service)
        children.append(service.process)
        notice(f"started {spec.name} (pid {service.process.pid}, log {service.process.log_path})")
    watched = servers + children
    _write_state(folder / STATE_FILE, watched, gateway_port, urls)

    deadline = time.monotonic() + READY_TIMEOUT
    for service in started:
        while not _answers(service.probe_url):
            if stopper.requested:
                return 0
            if (dead := _dead(watched)) is not None:
                raise _died(dead)
            if time.monotonic() > deadline:
                raise CliError(
                    f"{service.process.name} did not answer {service.probe_url} within "
                    f"{READY_TIMEOUT:.0f} s; see its log: {service.process.log_path}"
                )
            stopper.wait(0.05)
    if not any(service.process.name == "gateway" for service in started):
        notice("no gateway yet: nothing answers the MCP URL below")

    say(f"MCP URL: http://127.0.0.1:{gateway_port}/mcp")
    say(f"Token: {token}")
    notice(f"ready in {time.monotonic() - began:.1f} s; press Ctrl-C to stop")
    while stopper.requested is None:
        if (dead := _dead(watched)) is not None:
            raise _died(dead)
        stopper.wait(1.0)
    notice(f"{stopper.requested.name} received, stopping")
    return 0
