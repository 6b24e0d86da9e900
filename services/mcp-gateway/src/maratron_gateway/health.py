"""Plain HTTP routes beside `/mcp` (they bypass auth): `/healthz`, `/readyz`, `/metrics`."""

from __future__ import annotations

import asyncio

from fastmcp import FastMCP
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from maratron_gateway.deps import GatewayDeps

PROBE_TIMEOUT_S = 1


async def _nats_ok(deps: GatewayDeps) -> bool:
    try:
        nc = deps.nats
        if not nc.is_connected:
            return False
        await nc.flush(timeout=PROBE_TIMEOUT_S)
    except Exception:
        return False
    return True


async def _redis_ok(deps: GatewayDeps) -> bool:
    try:
        return bool(await asyncio.wait_for(deps.redis.ping(), PROBE_TIMEOUT_S))
    except Exception:
        return False


def register(mcp: FastMCP, deps: GatewayDeps) -> None:
    @mcp.custom_route("/healthz", methods=["GET"], include_in_schema=False)
    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "replica": deps.settings.replica_id})

    @mcp.custom_route("/readyz", methods=["GET"], include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        nats_ok, redis_ok = await asyncio.gather(_nats_ok(deps), _redis_ok(deps))
        down = [name for name, ok in (("nats", nats_ok), ("redis", redis_ok)) if not ok]
        body = {
            "status": "ready" if not down else "not ready",
            "nats": "ok" if nats_ok else "unreachable",
            "redis": "ok" if redis_ok else "unreachable",
        }
        if down:
            body["unreachable"] = ", ".join(down)
        return JSONResponse(body, status_code=503 if down else 200)

    @mcp.custom_route("/metrics", methods=["GET"], include_in_schema=False)
    async def metrics(request: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
