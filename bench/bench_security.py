"""Security benchmark: what authentication, scope checks and rate limiting add to a call.

    uv run python bench/bench_security.py   # NATS_URL / DATABASE_URL / REDIS_URL, else 127.0.0.1

Starts two gateway processes on a fresh namespace (removed afterwards), each uvicorn + uvloop
+ httptools like `python -m maratron_gateway`:
  * `plain`  - the same tools and pipeline with the security layer taken out: no bearer auth,
               no AccessMiddleware (scopes, grants, rate limit), no HTTP security layer;
  * `secure` - the real `build_app` (verifier chain, scopes, Redis rate limit, audit, limits).
and measures the no-op tool `ping` over HTTP (one raw JSON-RPC POST per call, stateless
2025-11-25 era, keep-alive) in interleaved rounds: `plain`, `secure` with a JWT, `secure`
with an API key (a Redis lookup + SHA-256). Target: p50 added by security < 0.5 ms.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from maratron_devstack.ports import free_port
from maratron_devstack.process import ManagedProcess, StartError, wait_until
from maratron_devstack.tokens import load_or_create_keypair, mint_token
from maratron_service.testing import drop_namespace
from maratron_testing.plugin import StackUrls

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.e2e.cluster import NO_RATE_LIMITS

ROUNDS = 10
CALLS_PER_ROUND = 200
WARMUP_CALLS = 100
TARGET_MS = 0.5
SUBJECT = "ath-bench-sec"
PING = b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ping","arguments":{}}}'
HEADERS = {
    "Accept": "application/json, text/event-stream",
    "Content-Type": "application/json",
    "MCP-Protocol-Version": "2025-11-25",
}


def serve(variant: str) -> None:
    """Child process: serve the `plain` or `secure` gateway (settings from the environment)."""
    import uvicorn
    from maratron_gateway.security.middleware import AccessMiddleware
    from maratron_gateway.server import MCP_PATH, build_app, build_gateway
    from maratron_gateway.settings import GatewaySettings

    settings = GatewaySettings()
    if variant == "secure":
        app = build_app(settings)
    else:
        mcp = build_gateway(settings, stdio=True)  # no bearer auth; acts as STDIO_SUBJECT
        mcp.middleware[:] = [m for m in mcp.middleware if not isinstance(m, AccessMiddleware)]
        app = mcp.http_app(path=MCP_PATH, stateless_http=True, json_response=True)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=settings.gateway_port,
        access_log=False,
        loop="uvloop",
        http="httptools",
        log_level="warning",
    )


def _ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def _start(variant: str, env: dict[str, str], folder: Path) -> tuple[ManagedProcess, str]:
    port = free_port()
    proc = ManagedProcess(
        name=f"gateway-{variant}",
        args=[sys.executable, __file__, "--serve", variant],
        log_path=folder / f"{variant}.log",
        env={**env, "MARATRON_GATEWAY_PORT": str(port), "MARATRON_REPLICA_ID": variant},
    ).start()
    base = f"http://127.0.0.1:{port}"
    if not wait_until(lambda: _ready(base + "/readyz"), timeout=240, alive=proc.alive):
        raise StartError(f"{variant} gateway did not start:\n{proc.log_tail(30)}")
    return proc, base + "/mcp"


async def _calls(http: httpx.AsyncClient, url: str, auth: str | None, n: int) -> list[float]:
    headers = dict(HEADERS)
    if auth:
        headers["Authorization"] = f"Bearer {auth}"
    out = []
    for _ in range(n):
        started = time.perf_counter()
        response = await http.post(url, content=PING, headers=headers)
        out.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200 or b'"isError":true' in response.content:
            raise RuntimeError(f"ping failed: {response.status_code} {response.text[:200]}")
    return out


async def main(
    nats_url: str, database_url: str, redis_url: str, namespace: str | None = None
) -> list[dict[str, Any]]:
    from maratron_access.control import AccessControl
    from maratron_contracts.registry import load_all
    from maratron_eventstore import EventStore
    from maratron_projections import Keys
    from redis.asyncio import Redis

    namespace = namespace or f"benchsec{secrets.token_hex(3)}"
    stack = StackUrls(nats_url, database_url, redis_url, namespace)
    processes: list[ManagedProcess] = []
    with tempfile.TemporaryDirectory(prefix="maratron-bench-sec-") as tmp:
        folder = Path(tmp)
        keys = load_or_create_keypair(folder / "keys")
        env = {k: v for k, v in os.environ.items() if not k.startswith("MARATRON_")}
        env.update(
            NATS_URL=nats_url,
            DATABASE_URL=database_url,
            REDIS_URL=redis_url,
            MARATRON_NAMESPACE=namespace,
            MARATRON_JWT_PUBLIC_KEY_FILE=str(folder / "keys" / "jwt-public.pem"),
            MARATRON_STDIO_SUBJECT=SUBJECT,
            MARATRON_LOG_LEVEL="WARNING",
            **NO_RATE_LIMITS,
        )
        store = await EventStore.connect(database_url, namespace=namespace, registry=load_all())
        redis = Redis.from_url(redis_url)
        try:
            await store.migrate()
            access = AccessControl(store, redis, Keys(namespace))
            _, api_key = await access.issue_key(SUBJECT, ["runs:read"], name="bench")
            token = mint_token(keys, subject=SUBJECT, ttl_seconds=3600)
            plain_proc, plain = _start("plain", env, folder)
            processes.append(plain_proc)
            secure_proc, secure = _start("secure", env, folder)
            processes.append(secure_proc)
            variants = {
                "plain (no auth, no limits)": (plain, None),
                "secure, JWT": (secure, token),
                "secure, API key": (secure, api_key),
            }
            samples: dict[str, list[float]] = {name: [] for name in variants}
            async with httpx.AsyncClient(timeout=30) as http:
                for url, auth in variants.values():
                    await _calls(http, url, auth, WARMUP_CALLS)
                for _ in range(ROUNDS):  # interleaved: drift on a busy machine hits all alike
                    for name, (url, auth) in variants.items():
                        samples[name] += await _calls(http, url, auth, CALLS_PER_ROUND)
        finally:
            for proc in reversed(processes):
                proc.stop()
            await redis.aclose()
            await store.close()
            await drop_namespace(stack, namespace)
    base = statistics.median(samples["plain (no auth, no limits)"])
    rows = []
    for name, ms in samples.items():
        p50 = statistics.median(ms)
        added = p50 - base
        rows.append(
            {
                "variant": name,
                "p50_ms": round(p50, 3),
                "p99_ms": round(sorted(ms)[int(0.99 * len(ms))], 3),
                "added_ms": round(added, 3),
                "target": "-" if added == 0 else f"< {TARGET_MS}",
                "ok": "-" if added == 0 else ("yes" if added < TARGET_MS else "NO"),
                "n": len(ms),
            }
        )
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    head = f"{'variant':<28} {'p50 ms':>8} {'p99 ms':>8} {'added ms':>9} "
    head += f"{'target':>7} {'ok':>4} {'n':>5}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['variant']:<28} {r['p50_ms']:>8} {r['p99_ms']:>8} {r['added_ms']:>9} "
            f"{r['target']:>7} {r['ok']:>4} {r['n']:>5}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        serve(sys.argv[2])
    else:
        print(
            table(
                asyncio.run(
                    main(
                        os.environ.get("NATS_URL", "nats://127.0.0.1:4222"),
                        os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
                        os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
                    )
                )
            )
        )
