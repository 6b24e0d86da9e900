"""The embedded stack: starts, keeps every byte across a restart, stops without leftovers,
and dies with its parent."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import nats
import pytest
import redis.asyncio as redis_asyncio
from maratron_devstack import redis_server
from maratron_devstack.external import external_urls
from maratron_devstack.ports import free_port
from maratron_devstack.process import pid_running, wait_until
from maratron_devstack.stack import EmbeddedStack, StackLocked

pytestmark = pytest.mark.integration


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "data"
    yield folder
    EmbeddedStack(folder).remove_data()


def _group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    # Only zombies (not yet reaped by init) may remain in the group.
    return not any(
        pid_running(int(entry.name))
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and _pgid_of(int(entry.name)) == pgid
    )


def _pgid_of(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


async def _write_everything(urls: dict[str, str]) -> None:
    connection = await asyncpg.connect(urls["DATABASE_URL"])
    try:
        await connection.execute("CREATE TABLE kept (value text)")
        await connection.execute("INSERT INTO kept VALUES ('event-1')")
    finally:
        await connection.close()
    client = redis_asyncio.from_url(urls["REDIS_URL"])
    try:
        await client.set("kept", "model-1")
    finally:
        await client.aclose()
    nc = await nats.connect(urls["NATS_URL"])
    try:
        js = nc.jetstream()
        await js.add_stream(name="KEPT", subjects=["kept.>"])
        await js.publish("kept.one", b"message-1")
    finally:
        await nc.close()


async def _read_everything(urls: dict[str, str]) -> tuple[str, object, bytes]:
    connection = await asyncpg.connect(urls["DATABASE_URL"])
    try:
        row = await connection.fetchval("SELECT value FROM kept")
    finally:
        await connection.close()
    client = redis_asyncio.from_url(urls["REDIS_URL"])
    try:
        model = await client.get("kept")
    finally:
        await client.aclose()
    nc = await nats.connect(urls["NATS_URL"])
    try:
        message = await nc.jetstream().get_last_msg("KEPT", "kept.one")
    finally:
        await nc.close()
    return str(row), model, message.data or b""


async def test_restart_keeps_data_and_stop_leaves_no_process(data_dir: Path) -> None:
    # durable=False only skips fsync (faster); a clean stop still writes everything out.
    first = EmbeddedStack(data_dir, durable=False).start()
    try:
        urls = first.urls()
        assert set(urls) == {"NATS_URL", "DATABASE_URL", "REDIS_URL"}
        await _write_everything(urls)
    finally:
        first.stop()
    pids = [process.pid for process in first.processes]
    assert len(pids) == 3
    assert all(_group_gone(pid) for pid in pids)

    second = EmbeddedStack(data_dir, durable=False).start()
    try:
        assert await _read_everything(second.urls()) == ("event-1", b"model-1", b"message-1")
    finally:
        second.stop()
    assert all(_group_gone(process.pid) for process in second.processes)


def test_a_second_stack_on_the_same_folder_is_refused(data_dir: Path) -> None:
    with EmbeddedStack(data_dir, servers=("redis",)), pytest.raises(StackLocked):
        EmbeddedStack(data_dir, servers=("redis",)).start()


def test_children_die_with_a_killed_parent(data_dir: Path) -> None:
    script = textwrap.dedent(
        f"""
        import json, sys, time
        from pathlib import Path
        from maratron_devstack.stack import EmbeddedStack
        stack = EmbeddedStack(Path({str(data_dir)!r}), durable=False).start()
        print(json.dumps([p.pid for p in stack.processes]), flush=True)
        time.sleep(600)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        pids: list[int] = json.loads(parent.stdout.readline())
        assert len(pids) == 3 and all(pid_running(pid) for pid in pids)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    try:
        assert wait_until(lambda: all(_group_gone(pid) for pid in pids), timeout=30)
    finally:  # a failure must not leave the servers behind
        for pid in filter(pid_running, pids):
            os.killpg(pid, signal.SIGKILL)


def test_external_urls_reads_only_set_variables() -> None:
    env = {"NATS_URL": "nats://h:1", "DATABASE_URL": "", "OTHER": "x"}
    assert external_urls(env) == {"NATS_URL": "nats://h:1"}


def test_a_server_whose_port_was_taken_is_respawned_on_another(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        ports = iter([taken])
        monkeypatch.setattr(redis_server, "free_port", lambda: next(ports, None) or free_port())
        with EmbeddedStack(data_dir, servers=("redis",)) as stack:
            assert stack.redis.port != taken
            assert stack.redis.ready()
            assert "Address already in use" in stack.redis.process.log_tail(50)  # type: ignore[union-attr]
