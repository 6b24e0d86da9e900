"""MCP benchmark: latency and throughput of real MCP calls over HTTP through one gateway.

    uv run python bench/bench_mcp.py   # NATS_URL / DATABASE_URL / REDIS_URL, else 127.0.0.1

Starts the runs service and one gateway as processes (tests/e2e/cluster.py) on a fresh
namespace (removed afterwards), then measures `ping` (the floor: HTTP + JWT + MCP, nothing
behind), `log_run` (a command through NATS, append, inline projection, read back),
`list_runs` and `run_summary` (Redis read models) at 1 and 16 concurrent clients, each client
a fastmcp `Client` in the sessionless 2026-07-28 era with its own athlete's token.
Latencies are what the client sees (including its own JSON Schema validation of structured
content); `server ms` is the mean time inside the gateway's tool pipeline (its /metrics).
Targets: log_run p50 <= 1.5x ping, reads <= 1.2x ping.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import secrets
import statistics
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
from fastmcp import Client
from maratron_service.testing import drop_namespace
from maratron_testing.plugin import StackUrls

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.e2e.cluster import NO_RATE_LIMITS, Cluster

CONCURRENCY = (1, 16)
CALLS_PER_CLIENT = {1: 200, 16: 25}
WARMUP_CALLS = 20
SEED_RUNS = 40
TARGETS = {"log_run": 1.5, "list_runs": 1.2, "run_summary": 1.2}


def _server_totals(metrics_url: str, tool: str) -> tuple[float, float]:
    """(seconds, calls) the gateway itself spent in `tool`, from its Prometheus histogram."""
    text = httpx.get(metrics_url, timeout=10).text
    found = {}
    for kind in ("sum", "count"):
        match = re.search(rf'^maratron_mcp_tool_seconds_{kind}{{tool="{tool}"}} (\S+)$', text, re.M)
        found[kind] = float(match.group(1)) if match else 0.0
    return found["sum"], found["count"]


def _percentile(ms: list[float], q: float) -> float:
    ordered = sorted(ms)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Workload:
    """Arguments for each benchmarked tool; log_run dates walk back one day per call."""

    def __init__(self) -> None:
        self._day = 0
        self.today = dt.date(2026, 11, 20)

    def args(self, tool: str) -> dict[str, Any]:
        if tool == "log_run":
            self._day += 1
            date = self.today - dt.timedelta(days=self._day % 3000)
            return {"date": date.isoformat(), "distance": 8.5, "duration": "44:10"}
        if tool == "list_runs":
            return {"limit": 10}
        if tool == "run_summary":
            return {"period": "30d", "at": self.today.isoformat()}
        return {}


async def _client_loop(
    client: Client[Any], work: Workload, tool: str, calls: int, out: list[float]
) -> None:
    for _ in range(calls):
        args = work.args(tool)
        started = time.perf_counter()
        result = await client.call_tool(tool, args)
        out.append((time.perf_counter() - started) * 1000)
        assert not result.is_error


async def _measure(
    clients: list[tuple[Client[Any], Workload]], tool: str, concurrency: int, metrics_url: str
) -> dict[str, Any]:
    chosen = clients[:concurrency]
    await asyncio.gather(*(_client_loop(c, w, tool, WARMUP_CALLS, []) for c, w in chosen))
    samples: list[float] = []
    server_before = _server_totals(metrics_url, tool)
    started = time.perf_counter()
    await asyncio.gather(
        *(_client_loop(c, w, tool, CALLS_PER_CLIENT[concurrency], samples) for c, w in chosen)
    )
    wall = time.perf_counter() - started
    server_after = _server_totals(metrics_url, tool)
    server_ms = (server_after[0] - server_before[0]) / max(server_after[1] - server_before[1], 1)
    return {
        "tool": tool,
        "clients": concurrency,
        "p50_ms": round(statistics.median(samples), 2),
        "p99_ms": round(_percentile(samples, 0.99), 2),
        "calls_per_s": round(len(samples) / wall, 1),
        "server_mean_ms": round(server_ms * 1000, 2),
        "n": len(samples),
    }


async def _seed(client: Client[Any], work: Workload, athlete: str) -> None:
    await client.call_tool(
        "register_athlete", {"name": f"Bench {athlete}", "email": f"{athlete}@example.org"}
    )
    await client.call_tool("add_shoe", {"name": "Bench shoe", "default": True})
    for _ in range(SEED_RUNS):
        await client.call_tool("log_run", work.args("log_run"))


async def main(
    nats_url: str, database_url: str, redis_url: str, namespace: str | None = None
) -> list[dict[str, Any]]:
    namespace = namespace or f"benchmcp{secrets.token_hex(3)}"
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="maratron-bench-mcp-") as folder:
        cluster = Cluster(
            nats_url, database_url, redis_url, namespace, Path(folder), extra_env=NO_RATE_LIMITS
        )
        try:
            cluster.start(services=("runs",), gateways=1)
            url = cluster.gateway_urls[0]
            metrics_url = url.removesuffix("/mcp") + "/metrics"
            async with AsyncExitStack() as stack:
                clients: list[tuple[Client[Any], Workload]] = []
                for i in range(max(CONCURRENCY)):
                    athlete = f"ath-bench-{i}"
                    client = Client(url, auth=cluster.token(athlete), timeout=60)
                    clients.append((await stack.enter_async_context(client), Workload()))
                await asyncio.gather(*(_seed(c, w, f"ath-bench-{i}")
                                       for i, (c, w) in enumerate(clients)))  # fmt: skip
                for concurrency in CONCURRENCY:
                    for tool in ("ping", "log_run", "list_runs", "run_summary"):
                        rows.append(await _measure(clients, tool, concurrency, metrics_url))
        finally:
            cluster.stop()
            await drop_namespace(StackUrls(nats_url, database_url, redis_url, namespace), namespace)
    floor = {r["clients"]: r["p50_ms"] for r in rows if r["tool"] == "ping"}
    for row in rows:
        row["x_ping_p50"] = round(row["p50_ms"] / floor[row["clients"]], 2)
        target = TARGETS.get(row["tool"])
        row["target"] = f"<= {target}x" if target else "floor"
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    head = f"{'tool':<12} {'clients':>7} {'p50 ms':>8} {'p99 ms':>8} {'calls/s':>8} "
    head += f"{'x ping':>7} {'target':>7} {'server ms':>9} {'n':>5}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['tool']:<12} {r['clients']:>7} {r['p50_ms']:>8} {r['p99_ms']:>8} "
            f"{r['calls_per_s']:>8} {r['x_ping_p50']:>7} {r['target']:>7} "
            f"{r['server_mean_ms']:>9} {r['n']:>5}"
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
