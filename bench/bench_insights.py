"""Insights benchmark: insights reads over HTTP for an athlete with 5 years of near-daily runs.

    uv run python bench/bench_insights.py   # NATS_URL / DATABASE_URL / REDIS_URL, else 127.0.0.1

Starts the runs, context and insights services and one gateway as processes
(tests/e2e/cluster.py) on a fresh namespace (removed afterwards), logs ~1,800 runs through
`log_run`, waits until insights has seen them all, then measures p50/p99 of `ping` (the HTTP
floor), `list_runs` (one Redis read), `training_load` and `get_coaching_snapshot` from one
client, interleaved. Target: the insights reads <= 1.2x list_runs at p50.
Also reported: how long insights took to catch up after the last run was logged.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from fastmcp import Client
from fastmcp.exceptions import ToolError
from maratron_service.testing import drop_namespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.e2e.cluster import NO_RATE_LIMITS, Cluster

YEARS = 5
CALLS = 300
WARMUP = 30
SEED_CONCURRENCY = 8
TOOLS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("ping", {}),
    ("list_runs", {"limit": 10}),
    ("training_load", {}),
    ("get_coaching_snapshot", {}),
)
TARGET_X_LIST_RUNS = 1.2


def _percentile(ms: list[float], q: float) -> float:
    ordered = sorted(ms)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def history(today: dt.date) -> list[dict[str, Any]]:
    """Five years of near-daily runs (a rest day a month): ~1,760 runs, a weekly long run, a
    monthly race, heart rate and effort on some."""
    runs = []
    days = 365 * YEARS
    for i in range(days):
        if i % 30 == 3:
            continue
        date = today - dt.timedelta(days=days - i)
        run: dict[str, Any] = {"date": date.isoformat(), "distance": 9, "duration": "49:30",
                               "start_time": "06:45"}  # fmt: skip
        if i % 7 == 6:
            run.update(distance=20, duration="1:52:00", workout_type="long")
        elif i % 30 == 11:
            run.update(distance=10, duration="42:30", workout_type="race")
        elif i % 7 == 1:
            run.update(avg_hr=152, perceived_effort=6)
        runs.append(run)
    return runs


async def _seed(client: Client[Any], runs: list[dict[str, Any]]) -> None:
    await client.call_tool("register_athlete", {
        "name": "Bench", "email": "bench@example.org", "sex": "female", "resting_hr": 48,
        "max_hr": 188})  # fmt: skip
    await client.call_tool("add_shoe", {"name": "Bench shoe", "default": True})
    queue = list(runs)

    async def worker() -> None:
        while queue:
            run = queue.pop()
            for attempt in range(5):  # a busy machine can hit the command deadline
                try:
                    await client.call_tool("log_run", run)
                    break
                except ToolError as exc:
                    if "unavailable" not in str(exc) or attempt == 4:
                        raise

    await asyncio.gather(*(worker() for _ in range(SEED_CONCURRENCY)))


async def _insights_runs(client: Client[Any]) -> int:
    try:
        contents = await client.read_resource("insights://me/latest")
    except Exception:
        return -1
    return int(json.loads(contents[0].text)["runs"])  # type: ignore[union-attr]


async def _measure(client: Client[Any]) -> list[dict[str, Any]]:
    """Every tool once per round, in a rotating order, so that load from anything else on the
    machine falls on all of them alike."""
    samples: dict[str, list[float]] = {tool: [] for tool, _ in TOOLS}
    for round_ in range(WARMUP + CALLS):
        for k in range(len(TOOLS)):
            tool, args = TOOLS[(round_ + k) % len(TOOLS)]
            started = time.perf_counter()
            result = await client.call_tool(tool, args)
            elapsed = (time.perf_counter() - started) * 1000
            assert not result.is_error
            if round_ >= WARMUP:
                samples[tool].append(elapsed)
    return [
        {
            "tool": tool,
            "p50_ms": round(statistics.median(ms), 2),
            "p99_ms": round(_percentile(ms, 0.99), 2),
            "n": len(ms),
        }
        for tool, ms in samples.items()
    ]


async def main(nats_url: str, database_url: str, redis_url: str) -> list[dict[str, Any]]:
    namespace = f"benchins{secrets.token_hex(3)}"
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="maratron-bench-insights-") as folder:
        cluster = Cluster(
            nats_url, database_url, redis_url, namespace, Path(folder), extra_env=NO_RATE_LIMITS
        )
        try:
            cluster.start(services=("runs", "context", "insights"), gateways=1)
            url = cluster.gateway_urls[0]
            async with Client(url, auth=cluster.token("ath-bench-insights"), timeout=120) as c:
                runs = history(dt.datetime.now(dt.UTC).date())
                started = time.perf_counter()
                await _seed(c, runs)
                seeded = time.perf_counter()
                # a retried log_run may have been applied twice: count what the runs service has
                summary = await c.call_tool("run_summary", {"period": f"{365 * YEARS + 1}d"})
                assert summary.structured_content is not None
                logged = int(summary.structured_content["count"])
                deadline = seeded + 600
                while await _insights_runs(c) != logged:
                    if time.perf_counter() > deadline:
                        raise RuntimeError("insights did not catch up within 10 minutes")
                    await asyncio.sleep(0.05)
                caught_up = time.perf_counter()
                rows.extend(await _measure(c))
        finally:
            cluster.stop()
            stack = SimpleNamespace(nats_url=nats_url, database_url=database_url,
                                    redis_url=redis_url)  # fmt: skip
            await drop_namespace(stack, namespace)
    base = next(r["p50_ms"] for r in rows if r["tool"] == "list_runs")
    for row in rows:
        row["x_list_runs"] = round(row["p50_ms"] / base, 2)
        row["target"] = (
            f"<= {TARGET_X_LIST_RUNS}x"
            if row["tool"] in ("training_load", "get_coaching_snapshot")
            else ""
        )
        row["runs"] = logged
    rows.append(
        {
            "tool": "(seed log_run x runs)",
            "p50_ms": "",
            "p99_ms": "",
            "n": logged,
            "x_list_runs": "",
            "target": f"{seeded - started:.1f} s",
            "runs": logged,
        }
    )
    rows.append(
        {
            "tool": "(insights lag after)",
            "p50_ms": "",
            "p99_ms": "",
            "n": "",
            "x_list_runs": "",
            "target": f"{caught_up - seeded:.2f} s",
            "runs": logged,
        }
    )
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    head = f"{'tool':<24} {'p50 ms':>8} {'p99 ms':>8} {'x list_runs':>11} {'target':>9} {'n':>5}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['tool']:<24} {r['p50_ms']!s:>8} {r['p99_ms']!s:>8} {r['x_list_runs']!s:>11} "
            f"{r['target']:>9} {r['n']!s:>5}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    result = asyncio.run(
        main(
            os.environ.get("NATS_URL", "nats://127.0.0.1:4222"),
            os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
            os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        )
    )
    print(table(result))
