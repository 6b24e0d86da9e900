"""`maratron up` as a real subprocess, data in a temporary folder: against the embedded stack,
or the suite's servers when *_URL are set."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
from maratron_devstack.external import external_urls
from maratron_devstack.ports import free_port
from maratron_devstack.process import pid_running, wait_until
from maratron_devstack.stack import EmbeddedStack, new_namespace
from maratron_devstack.tokens import DEV_SCOPES, key_paths, verify_token

pytestmark = pytest.mark.integration
URL_VARIABLES = ("NATS_URL", "DATABASE_URL", "REDIS_URL")


def _env(data: Path, *, keep_urls: bool = False, **extra: str) -> dict[str, str]:
    """The test's environment for `up`; *_URL kept only with `keep_urls` (then `up` uses the
    servers the suite runs against, in a fresh namespace)."""
    env = {k: v for k, v in os.environ.items() if keep_urls or k not in URL_VARIABLES}
    return {**env, "MARATRON_DATA_DIR": str(data), "MARATRON_NAMESPACE": new_namespace(), **extra}


def _lines(stream: IO[str]) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _read_until(lines: queue.Queue[str], prefix: str, seen: list[str], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"no line {prefix!r} in:\n" + "\n".join(seen)) from None
        seen.append(line)
        if line.startswith(prefix):
            return line[len(prefix) :]


def _list_tools(url: str, token: str | None) -> tuple[int, str]:
    """POST an MCP tools/list request; (HTTP status, body)."""
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}).encode()
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture
def data(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "data"
    yield folder
    EmbeddedStack(folder).remove_data()


def test_up_prints_url_and_token_serves_and_stops_everything_on_sigint(data: Path) -> None:
    """Embedded stack by default; against the suite's external servers when *_URL are set."""
    port = free_port()
    embedded = {"NATS_URL": "nats", "DATABASE_URL": "postgres", "REDIS_URL": "redis"}
    for variable in external_urls():
        del embedded[variable]
    up = subprocess.Popen(
        [sys.executable, "-m", "maratron_cli", "up"],
        env=_env(data, keep_urls=True, MARATRON_GATEWAY_PORT=str(port)),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    seen: list[str] = []
    try:
        assert up.stdout is not None
        lines = _lines(up.stdout)
        url = _read_until(lines, "MCP URL: ", seen, timeout=90)
        token = _read_until(lines, "Token: ", seen, timeout=5)
        assert url == f"http://127.0.0.1:{port}/mcp"

        claims = verify_token(token, key_paths(data / "keys")[1].read_bytes())
        assert claims["sub"] == "athlete-dev"
        assert claims["scope"].split() == list(DEV_SCOPES)
        for path in key_paths(data / "keys"):
            assert path.stat().st_mode & 0o777 == 0o600

        state = json.loads((data / "up.json").read_text())
        pids: dict[str, int] = state["processes"]
        assert set(pids) & {"nats", "postgres", "redis"} == set(embedded.values())
        assert all(pid_running(pid) for pid in pids.values())
        if "gateway" in pids:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
                assert answer.status == 200
            # The gateway got the key, issuer and audience: the printed token is accepted...
            status, body = _list_tools(url, token)
            assert status == 200 and '"tools"' in body, body
            # ...and a request without it is not.
            assert _list_tools(url, None)[0] == 401

        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=60) == 0, "\n".join(seen)
        assert not (data / "up.json").exists()
        assert wait_until(lambda: not any(map(pid_running, pids.values())), timeout=10), pids
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()


def test_unreachable_url_is_one_line_naming_the_variable(data: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "maratron_cli", "up"],
        env={**_env(data), "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/maratron"},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    errors = done.stderr.strip().splitlines()
    assert len(errors) == 1, done.stderr
    assert errors[0].startswith("maratron up: DATABASE_URL is unreachable: tried ")
    assert "postgresql://postgres@127.0.0.1:1/maratron" in errors[0]
    assert "Traceback" not in done.stdout + done.stderr
    assert not (data / "postgres").exists()  # nothing embedded was started


def test_a_dying_child_is_named_and_everything_stops(data: Path) -> None:
    up = subprocess.Popen(
        [sys.executable, "-m", "maratron_cli", "up"],
        env=_env(data, MARATRON_GATEWAY_PORT=str(free_port())),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        state = data / "up.json"
        assert wait_until(state.exists, timeout=90, alive=lambda: up.poll() is None)
        pids: dict[str, int] = json.loads(state.read_text())["processes"]
        os.kill(pids["redis"], signal.SIGKILL)
        out, err = up.communicate(timeout=60)
        assert up.returncode == 1, out + err
        assert err.strip() == (
            "maratron up: redis exited unexpectedly (exit code -9); "
            f"see its log: {data / 'logs' / 'redis.log'}"
        )
        assert wait_until(lambda: not any(map(pid_running, pids.values())), timeout=10), pids
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
