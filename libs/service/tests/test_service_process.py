"""`run_service` as a real process: JSON logs, probes, commands, clean exit on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

import httpx
import nats
from maratron_contracts.envelope import Actor
from maratron_service.client import CommandClient
from maratron_service.testing import drop_namespace
from maratron_testing.plugin import StackUrls

from .service_counter_app import Increment

MAIN = (
    "import sys; sys.path.insert(0, sys.argv[1]);"
    "from service_counter_app import build_app;"
    "from maratron_service.app import run_service;"
    "from maratron_service.settings import Settings;"
    "run_service(build_app, Settings)"
)


async def _started_port(stream: asyncio.StreamReader, lines: list[dict[str, object]]) -> int:
    while True:
        raw = await asyncio.wait_for(stream.readline(), 30)
        assert raw, "the service exited before it started"
        line = json.loads(raw)  # every line is JSON
        lines.append(line)
        message = str(line["msg"])
        if message.startswith("service counter started"):
            return int(message.rsplit(" ", 1)[1].rstrip(")"))


async def test_the_process_serves_and_stops_cleanly_on_sigterm(
    maratron_stack: StackUrls, namespace: str
) -> None:
    env = {
        **os.environ,
        "NATS_URL": maratron_stack.nats_url,
        "DATABASE_URL": maratron_stack.database_url,
        "REDIS_URL": maratron_stack.redis_url,
        "MARATRON_NAMESPACE": namespace,
        "MARATRON_SERVICE_NAME": "counter",
        "MARATRON_REPLICA_ID": "proc-1",
        "MARATRON_METRICS_HOST": "127.0.0.1",
        "MARATRON_METRICS_PORT": "0",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", MAIN, str(Path(__file__).parent),
        env=env, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    lines: list[dict[str, object]] = []
    nc = await nats.connect(maratron_stack.nats_url)
    try:
        port = await _started_port(proc.stderr, lines)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            deadline = time.monotonic() + 10
            while (await http.get("/readyz")).status_code != 200:
                assert time.monotonic() < deadline, "the service never became ready"
                await asyncio.sleep(0.05)
        client = CommandClient(nc, namespace, "test")
        outcome = await client.send("counter", Increment(counter_id="p"), "a1", Actor(subject="a1"))
        assert outcome.data == {"value": 1}

        proc.send_signal(signal.SIGTERM)
        rest = await asyncio.wait_for(proc.stderr.read(), 30)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        lines += [json.loads(x) for x in rest.splitlines() if x.strip()]
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await nc.close()
        await drop_namespace(maratron_stack, namespace)
    assert all(line["service"] == "counter" and line["replica"] == "proc-1" for line in lines)
    assert any(str(line["msg"]).startswith("service counter stopping") for line in lines)
