"""Transport hardening over real HTTP: Host/Origin validation against DNS rebinding, the
request body limit, and the audit of invalid input."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastmcp.exceptions import ToolError
from maratron_access.control import AccessControl
from maratron_contracts.access import DenialReason

from tests.e2e.cluster import Cluster
from tests.security.conftest import Connect, eventually

PING = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "tools/call",
    "params": {"name": "ping", "arguments": {}},
}


async def _ping(url: str, token: str, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(
            url,
            json=PING,
            headers={
                "Accept": "application/json, text/event-stream",
                "Content-Type": "application/json",
                "MCP-Protocol-Version": "2025-11-25",
                "Authorization": f"Bearer {token}",
                **headers,
            },
        )


async def test_foreign_host_and_origin_are_refused(
    sec_cluster: Cluster, gateway: str, access: AccessControl
) -> None:
    subject = f"ath-{uuid.uuid4().hex[:10]}"
    token = sec_cluster.token(subject)
    port = gateway.split(":")[2].split("/")[0]
    assert (await _ping(gateway, token, Host="evil.example")).status_code == 421
    assert (await _ping(gateway, token, Origin="http://evil.example")).status_code == 403
    # loopback names and origins are allowed by default
    assert (await _ping(gateway, token, Host=f"localhost:{port}")).status_code == 200
    assert (await _ping(gateway, token, Origin="http://localhost:5173")).status_code == 200

    async def audited() -> bool:
        return [d.reason for d in await access.denials(subject)] == [DenialReason.FORBIDDEN] * 2

    assert await eventually(audited)


@pytest.mark.parametrize("chunked", [False, True])
async def test_oversized_bodies_get_413(sec_cluster: Cluster, gateway: str, chunked: bool) -> None:
    body = b'{"jsonrpc": "2.0", "id": 1, "method": "ping", "pad": "' + b"x" * 1_100_000 + b'"}'

    async def stream() -> httpx.AsyncByteStream:  # type: ignore[misc]
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(
            gateway,
            content=stream() if chunked else body,
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json, text/event-stream",
                "Authorization": f"Bearer {sec_cluster.token('big')}",
            },
        )
    assert response.status_code == 413


async def test_invalid_input_is_refused_and_audited(
    connect: Connect, access: AccessControl
) -> None:
    subject = f"ath-{uuid.uuid4().hex[:10]}"
    async with connect(subject) as client:
        with pytest.raises(ToolError, match="invalid arguments for log_run: distance"):
            await client.call_tool(
                "log_run", {"date": "2026-11-01", "distance": -3, "duration": "25:00"}
            )

    async def audited() -> bool:
        found = await access.denials(subject)
        return [(d.reason, d.tool) for d in found] == [(DenialReason.INVALID_INPUT, "log_run")]

    assert await eventually(audited)
