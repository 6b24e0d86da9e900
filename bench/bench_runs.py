"""Runs service benchmark: command round trips through NATS (load, decide, append, inline
projection, reply) and read-model query latency.

    uv run python bench/bench_runs.py   # NATS_URL / DATABASE_URL / REDIS_URL, else 127.0.0.1

The service runs in-process on a fresh namespace, removed afterwards.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from maratron_contracts.envelope import Actor
from maratron_contracts.runs import SERVICE, AddShoe, LogRun, RegisterAthlete
from maratron_runs.app import build_app
from maratron_runs.queries import RunsQueries
from maratron_runs.settings import RunsSettings
from maratron_service.testing import client_of, drop_namespace, running_app, settings_for
from maratron_testing.plugin import StackUrls

SEQUENTIAL = 300
CONCURRENT = 600
CONCURRENCY = 16
QUERY_SAMPLES = 300


def _rows(name: str, samples: list[float]) -> list[dict[str, Any]]:
    ms = sorted(s * 1000 for s in samples)
    p99 = ms[min(len(ms) - 1, int(0.99 * len(ms)))]
    return [
        {"benchmark": f"{name} (p50)", "value": round(statistics.median(ms), 3), "unit": "ms",
         "n": len(ms)},
        {"benchmark": f"{name} (p99)", "value": round(p99, 3), "unit": "ms", "n": len(ms)},
    ]  # fmt: skip


async def _timed(fn: Callable[[], Awaitable[Any]], n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        await fn()
        out.append(time.perf_counter() - started)
    return out


async def main(nats_url: str, database_url: str, redis_url: str) -> list[dict[str, Any]]:
    namespace = f"bench{secrets.token_hex(4)}"
    stack = StackUrls(nats_url, database_url, redis_url, namespace)
    settings = settings_for(stack, RunsSettings, namespace)
    athlete, rows = "ath-bench", []
    actor = Actor(subject=athlete)
    today = dt.datetime.now(dt.UTC).date()
    try:
        async with running_app(build_app, settings) as app:
            client = client_of(app, deadline_s=30.0)
            q = RunsQueries(app.redis, app.keys)

            async def send(cmd: Any) -> Any:
                return await client.send(SERVICE, cmd, athlete, actor)

            await send(RegisterAthlete.model_validate({"name": "B", "email": "b@example.org"}))
            await send(AddShoe.model_validate({"name": "S", "default": True}))
            counter = iter(range(10**9))

            def log() -> Awaitable[Any]:
                i = next(counter)
                day = today - dt.timedelta(days=i % 3000)  # spread over ~8 years
                cmd = LogRun.model_validate(
                    {"date": day.isoformat(), "distance": 8 + i % 7, "duration": 2700}
                )
                return send(cmd)

            rows += _rows("log_run round trip, sequential", await _timed(log, SEQUENTIAL))
            sem = asyncio.Semaphore(CONCURRENCY)

            async def limited() -> None:
                async with sem:
                    await log()

            started = time.perf_counter()
            await asyncio.gather(*(limited() for _ in range(CONCURRENT)))
            rate = CONCURRENT / (time.perf_counter() - started)
            rows.append({"benchmark": f"log_run throughput, {CONCURRENCY} in flight",
                         "value": round(rate), "unit": "cmd/s", "n": CONCURRENT})  # fmt: skip

            run_id = (await q.list_runs(athlete, limit=1)).runs[0].run_id
            queries: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
                ("get_run", lambda: q.get_run(athlete, run_id)),
                ("list_runs limit=10", lambda: q.list_runs(athlete)),
                ("list_runs limit=100", lambda: q.list_runs(athlete, limit=100)),
                ("summary week", lambda: q.summary(athlete, "week")),
                ("summary year", lambda: q.summary(athlete, "year")),
                ("summary 3650d", lambda: q.summary(athlete, "3650d")),
                ("list_shoes", lambda: q.list_shoes(athlete)),
            ]
            for name, fn in queries:
                rows += _rows(name, await _timed(fn, QUERY_SAMPLES))
            (shoe,) = await q.list_shoes(athlete)
            assert shoe.run_count == SEQUENTIAL + CONCURRENT, shoe
    finally:
        await drop_namespace(stack, namespace)
    # The machine is shared: a latency means little without the load it was measured under.
    load = round(os.getloadavg()[0], 2)
    rows.append({"benchmark": "load average, 1 min (after the run)", "value": load, "unit": "",
                 "n": os.cpu_count()})  # fmt: skip
    return rows


if __name__ == "__main__":
    results = asyncio.run(
        main(
            os.environ.get("NATS_URL", "nats://127.0.0.1:4222"),
            os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
            os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        )
    )
    for row in results:
        print(f"{row['benchmark']:<40} {row['value']:>10} {row['unit']}")
