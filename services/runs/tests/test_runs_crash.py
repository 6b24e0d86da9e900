"""Crash safety: SIGKILL the runs service (a real `python -m maratron_runs` process) in the middle
of a burst of log_run commands whose clients retry with the same command id. After a restart,
every acknowledged run exists exactly once: in the event store and in the read models."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import secrets
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import nats
import pytest
from maratron_contracts.envelope import Actor, Outcome
from maratron_contracts.runs import SERVICE, AddShoe, LogRun, RegisterAthlete
from maratron_eventstore import EventStore
from maratron_projections import Keys
from maratron_runs.queries import RunsQueries
from maratron_service.client import CommandClient
from maratron_service.testing import drop_namespace
from maratron_testing.plugin import StackUrls, new_namespace
from nats.aio.client import Client as NATS
from redis.asyncio import Redis

pytestmark = pytest.mark.integration

WORKERS, PER_WORKER = 8, 12  # 96 commands
DAY = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=2)


class ServiceProcess:
    """`python -m maratron_runs` in a subprocess, on one namespace of the test stack."""

    def __init__(self, stack: StackUrls, namespace: str, log: Path) -> None:
        self.env = {
            **os.environ,
            "NATS_URL": stack.nats_url,
            "DATABASE_URL": stack.database_url,
            "REDIS_URL": stack.redis_url,
            "MARATRON_NAMESPACE": namespace,
            "MARATRON_METRICS_HOST": "127.0.0.1",
            "MARATRON_METRICS_PORT": "0",
            "MARATRON_LOG_LEVEL": "WARNING",
        }
        self.log = log
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "maratron_runs", env=self.env, stdout=out, stderr=out
            )

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                await self.kill()


async def until(condition: Callable[[], Awaitable[bool]], deadline_s: float, what: str) -> None:
    """Poll `condition` until it holds; fail with `what` after `deadline_s`."""
    end = time.monotonic() + deadline_s
    while not await condition():
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def crash_world(
    maratron_stack: StackUrls, tmp_path: Path
) -> AsyncIterator[tuple[ServiceProcess, NATS, str]]:
    namespace = new_namespace("k")
    service = ServiceProcess(maratron_stack, namespace, tmp_path / "runs.log")
    nc = await nats.connect(maratron_stack.nats_url)
    try:
        yield service, nc, namespace
    finally:
        await service.stop()
        await nc.drain()
        await drop_namespace(maratron_stack, namespace)


async def test_sigkill_during_a_burst_loses_and_duplicates_nothing(
    maratron_stack: StackUrls, crash_world: tuple[ServiceProcess, NATS, str]
) -> None:
    service, nc, namespace = crash_world
    client = CommandClient(nc, namespace, "crash-test", deadline_s=60.0, attempt_timeout_s=1.0)
    athlete = f"ath-{secrets.token_hex(4)}"
    actor = Actor(subject=athlete)

    async def send(cmd: LogRun | AddShoe | RegisterAthlete) -> Outcome:
        return await client.send(SERVICE, cmd, athlete, actor)

    await service.start()
    await send(RegisterAthlete.model_validate({"name": "Kim", "email": "kim@example.org"}))
    shoe_id = (await send(AddShoe.model_validate({"name": "Crash", "default": True}))).data[
        "shoe_id"
    ]

    acked: dict[int, str] = {}  # command index -> run id
    first_acks = asyncio.Event()  # set once a few commands were acknowledged: kill then

    async def worker(w: int) -> None:
        for i in range(PER_WORKER):
            n = w * PER_WORKER + i
            km = 5 + n / 100  # every run has its own distance: the shoe sum is checkable
            cmd = LogRun.model_validate({"date": DAY.isoformat(), "distance": km, "duration": 1800})
            acked[n] = (await send(cmd)).data["run_id"]
            if len(acked) >= WORKERS * 2:
                first_acks.set()

    burst = asyncio.gather(*(worker(w) for w in range(WORKERS)))

    await asyncio.wait_for(first_acks.wait(), 30)
    await service.kill()
    acked_at_kill = len(acked)
    await service.start()
    await burst  # every client retried (same command id) until the new process answered

    total = WORKERS * PER_WORKER
    assert acked_at_kill < total, "the kill must land during the burst"
    assert len(acked) == total and len(set(acked.values())) == total

    # The event store holds each acknowledged run exactly once.
    store = await EventStore.connect(maratron_stack.database_url, namespace=namespace)
    try:
        logged = await store.read_all(0, limit=10_000, event_types=["RunLogged"])
    finally:
        await store.close()
    stored_ids = [e.data["run_id"] for e in logged]
    assert sorted(stored_ids) == sorted(acked.values())

    # The read models converge to exactly those runs, and the shoe sum is exact.
    redis = Redis.from_url(maratron_stack.redis_url)
    try:
        queries = RunsQueries(redis, Keys(namespace))
        expected_m = sum(round((5 + n / 100) * 1000) for n in range(total))

        async def converged() -> bool:
            shoes = await queries.list_shoes(athlete)
            return bool(shoes) and shoes[0].run_count == total

        await until(converged, 30, "the read models to converge after the restart")
        (shoe,) = await queries.list_shoes(athlete)
        assert (shoe.shoe_id, shoe.run_distance_m) == (shoe_id, expected_m)
        page = await queries.list_runs(athlete, limit=100)
        assert sorted(r.run_id for r in page.runs) == sorted(acked.values())
        summary = await queries.summary(athlete, "7d")
        assert (summary.count, summary.distance_m) == (total, expected_m)
    finally:
        await redis.aclose()
