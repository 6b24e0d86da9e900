"""MCP benchmark: latency and throughput of real MCP calls over HTTP through one gateway.

    uv run python bench/bench_mcp.py   # NATS_URL / DATABASE_URL / REDIS_URL, else 127.0.0.1

Starts the runs service and one gateway as processes (tests/e2e/cluster.py) on a fresh
namespace (removed afterwards), then measures `ping` (the floor: HTTP + JWT + MCP, nothing
behind), `log_run` (a command through NATS, append, inline projection, read back),
`list_runs` and `run_summary` (Redis read models) at 1 and 16 concurrent clients, each client
with its own athlete's token, in the sessionless 2026-07-28 era, twice:

* `p50 ms` ...: a fastmcp `Client`, what a typical Python MCP client sees: the call plus the
  client's own work (the MCP SDK validates structured content against the tool's output
  schema with `jsonschema`; fastmcp then builds typed data from it);
* `raw p50 ms`: one plain JSON-RPC POST per call (httpx, keep-alive, the answer parsed as
  JSON, nothing validated): the gateway's cost as any client sees it, without a client
  library. `client ms` is the difference of the two p50s.

The two kinds of caller alternate in rounds. `server ms` is the mean time inside the
gateway's tool pipeline (its /metrics, fastmcp rounds);
`service ms`, for commands (log_run), the part of it the runs service spent from receipt to
reply (its own /metrics): decide, Postgres append, inline projection.
Targets: log_run p50 <= 1.5x ping, reads <= 1.2x ping.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import secrets
import statistics
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, Protocol

import httpx
from fastmcp import Client
from maratron_service.testing import drop_namespace
from maratron_testing.plugin import StackUrls
from mcp_types import CLIENT_CAPABILITIES_META_KEY, PROTOCOL_VERSION_META_KEY

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.e2e.cluster import NO_RATE_LIMITS, Cluster

CONCURRENCY = (1, 16)
CALLS_PER_CLIENT = {1: 200, 16: 24}
ROUNDS = 4
WARMUP_CALLS = 20
SEED_RUNS = 40
TARGETS = {"log_run": 1.5, "list_runs": 1.2, "run_summary": 1.2}


def _histogram_totals(metrics_url: str, name: str, labels: str) -> tuple[float, float]:
    """(seconds, observations) of one Prometheus histogram series, e.g. `tool="ping"`."""
    text = httpx.get(metrics_url, timeout=10).text
    found = {}
    for kind in ("sum", "count"):
        match = re.search(rf"^{name}_{kind}{{{labels}}} (\S+)$", text, re.M)
        found[kind] = float(match.group(1)) if match else 0.0
    return found["sum"], found["count"]


def _server_totals(metrics_url: str, tool: str) -> tuple[float, float]:
    """(seconds, calls) the gateway itself spent in `tool`, from its Prometheus histogram."""
    return _histogram_totals(metrics_url, "maratron_mcp_tool_seconds", f'tool="{tool}"')


def _service_totals(metrics_url: str, tool: str) -> tuple[float, float]:
    """(seconds, commands) the runs service spent on `tool`'s command, receipt to reply."""
    labels = f'command="{tool}",service="runs"'  # the exposition sorts label names
    return _histogram_totals(metrics_url, "maratron_command_seconds", labels)


def _mean_ms(totals: tuple[float, float]) -> float:
    """Mean milliseconds of (seconds, observations)."""
    return round(totals[0] / max(totals[1], 1) * 1000, 2)


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


class Caller(Protocol):
    async def __call__(self, tool: str, args: dict[str, Any]) -> None:
        """Call `tool`; raise when it fails."""


class FastMCPCaller:
    """A fastmcp `Client` call, with everything the client does with the result."""

    def __init__(self, client: Client[Any]) -> None:
        self._client = client

    async def __call__(self, tool: str, args: dict[str, Any]) -> None:
        result = await self._client.call_tool(tool, args)
        assert not result.is_error


class RawCaller:
    """One JSON-RPC POST per call in the 2026-07-28 envelope (`_meta` with the protocol
    version and client capabilities, the `Mcp-Method` / `Mcp-Name` headers), the answer
    parsed as JSON and checked for errors only."""

    META = {PROTOCOL_VERSION_META_KEY: "2026-07-28", CLIENT_CAPABILITIES_META_KEY: {}}

    def __init__(self, http: httpx.AsyncClient, url: str) -> None:
        self._http = http
        self._url = url
        self._id = 0

    async def __call__(self, tool: str, args: dict[str, Any]) -> None:
        self._id += 1
        params = {"name": tool, "arguments": args, "_meta": self.META}
        body = {"jsonrpc": "2.0", "id": self._id, "method": "tools/call", "params": params}
        response = await self._http.post(
            self._url,
            content=json.dumps(body),
            headers={"Mcp-Method": "tools/call", "Mcp-Name": tool},
        )
        answer = response.json()
        if response.status_code != 200 or "error" in answer or answer["result"].get("isError"):
            raise RuntimeError(f"{tool} failed: {response.status_code} {response.text[:300]}")


def raw_http(url: str, token: str) -> httpx.AsyncClient:
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "MCP-Protocol-Version": "2026-07-28",
    }
    return httpx.AsyncClient(headers=headers, timeout=60)


async def _client_loop(
    call: Caller, work: Workload, tool: str, calls: int, out: list[float]
) -> None:
    for _ in range(calls):
        args = work.args(tool)
        started = time.perf_counter()
        await call(tool, args)
        out.append((time.perf_counter() - started) * 1000)


class Pass:
    """The samples of one kind of caller, gathered over several rounds."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self.wall = 0.0
        self.server = (0.0, 0.0)
        self.service = (0.0, 0.0)

    async def round(
        self,
        callers: list[tuple[Caller, Workload]],
        tool: str,
        concurrency: int,
        urls: tuple[str, str],
    ) -> None:
        """CALLS_PER_CLIENT / ROUNDS calls by each of `concurrency` callers at once."""
        calls = CALLS_PER_CLIENT[concurrency] // ROUNDS
        server, service = _server_totals(urls[0], tool), _service_totals(urls[1], tool)
        started = time.perf_counter()
        await asyncio.gather(
            *(_client_loop(c, w, tool, calls, self.samples) for c, w in callers[:concurrency])
        )
        self.wall += time.perf_counter() - started
        self.server = _add(self.server, _server_totals(urls[0], tool), server)
        self.service = _add(self.service, _service_totals(urls[1], tool), service)


def _add(
    total: tuple[float, float], after: tuple[float, float], before: tuple[float, float]
) -> tuple[float, float]:
    return total[0] + after[0] - before[0], total[1] + after[1] - before[1]


async def _measure(
    clients: list[tuple[Caller, Workload]],
    raw: list[tuple[Caller, Workload]],
    tool: str,
    concurrency: int,
    urls: tuple[str, str],
) -> dict[str, Any]:
    """fastmcp and raw rounds interleaved, so a busy machine's drift hits both alike."""
    for callers in (clients, raw):
        chosen = callers[:concurrency]
        await asyncio.gather(*(_client_loop(c, w, tool, WARMUP_CALLS, []) for c, w in chosen))
    fast, plain = Pass(), Pass()
    for _ in range(ROUNDS):
        await fast.round(clients, tool, concurrency, urls)
        await plain.round(raw, tool, concurrency, urls)
    p50, raw_p50 = statistics.median(fast.samples), statistics.median(plain.samples)
    return {
        "tool": tool,
        "clients": concurrency,
        "p50_ms": round(p50, 2),
        "p99_ms": round(_percentile(fast.samples, 0.99), 2),
        "calls_per_s": round(len(fast.samples) / fast.wall, 1),
        "raw_p50_ms": round(raw_p50, 2),
        "raw_p99_ms": round(_percentile(plain.samples, 0.99), 2),
        "raw_calls_per_s": round(len(plain.samples) / plain.wall, 1),
        "client_ms": round(p50 - raw_p50, 2),
        "server_mean_ms": _mean_ms(fast.server),
        "service_mean_ms": _mean_ms(fast.service),
        "n": len(fast.samples),
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
            service_metrics_url = cluster.probes["runs-1"].removesuffix("/readyz") + "/metrics"
            async with AsyncExitStack() as stack:
                seeded: list[tuple[Client[Any], Workload]] = []
                clients: list[tuple[Caller, Workload]] = []
                raw: list[tuple[Caller, Workload]] = []
                for i in range(max(CONCURRENCY)):
                    token = cluster.token(f"ath-bench-{i}")
                    client = await stack.enter_async_context(Client(url, auth=token, timeout=60))
                    http = await stack.enter_async_context(raw_http(url, token))
                    work = Workload()  # shared by both callers: log_run dates never repeat
                    seeded.append((client, work))
                    clients.append((FastMCPCaller(client), work))
                    raw.append((RawCaller(http, url), work))
                await asyncio.gather(*(_seed(c, w, f"ath-bench-{i}")
                                       for i, (c, w) in enumerate(seeded)))  # fmt: skip
                for concurrency in CONCURRENCY:
                    for tool in ("ping", "log_run", "list_runs", "run_summary"):
                        urls = (metrics_url, service_metrics_url)
                        rows.append(await _measure(clients, raw, tool, concurrency, urls))
        finally:
            cluster.stop()
            await drop_namespace(StackUrls(nats_url, database_url, redis_url, namespace), namespace)
    floor = {r["clients"]: r["p50_ms"] for r in rows if r["tool"] == "ping"}
    raw_floor = {r["clients"]: r["raw_p50_ms"] for r in rows if r["tool"] == "ping"}
    for row in rows:
        row["x_ping_p50"] = round(row["p50_ms"] / floor[row["clients"]], 2)
        row["raw_x_ping_p50"] = round(row["raw_p50_ms"] / raw_floor[row["clients"]], 2)
        target = TARGETS.get(row["tool"])
        row["target"] = f"<= {target}x" if target else "floor"
    return [{key: row[key] for key, _, _ in COLUMNS} for row in rows]


COLUMNS = (
    ("tool", "tool", 12),
    ("clients", "clients", 7),
    ("p50_ms", "p50 ms", 8),
    ("p99_ms", "p99 ms", 8),
    ("calls_per_s", "calls/s", 8),
    ("x_ping_p50", "x ping", 7),
    ("raw_p50_ms", "raw p50", 8),
    ("raw_p99_ms", "raw p99", 8),
    ("raw_calls_per_s", "raw c/s", 8),
    ("raw_x_ping_p50", "raw x", 6),
    ("client_ms", "client ms", 9),
    ("server_mean_ms", "server ms", 9),
    ("service_mean_ms", "service ms", 10),
    ("target", "target", 7),
    ("n", "n", 5),
)


def _cell(value: object, width: int, first: bool) -> str:
    return f"{value!s:<{width}}" if first else f"{value!s:>{width}}"


def table(rows: list[dict[str, Any]]) -> str:
    head = " ".join(_cell(title, w, i == 0) for i, (_, title, w) in enumerate(COLUMNS))
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(" ".join(_cell(r[key], w, i == 0) for i, (key, _, w) in enumerate(COLUMNS)))
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
