"""The gateway over real HTTP: probes, bearer auth, both MCP eras, the advertised surface."""

from __future__ import annotations

import httpx
import pytest
from maratron_devstack.tokens import KeyPair, mint_token

from tests.e2e.cluster import Cluster
from tests.e2e.conftest import Connect

pytestmark = pytest.mark.integration

RUNS_TOOLS = {
    "register_athlete", "get_profile", "update_profile", "delete_athlete",
    "log_run", "update_run", "delete_run", "get_run", "list_runs", "run_summary",
    "add_shoe", "list_shoes", "retire_shoe", "ping",
}  # fmt: skip


def _base(url: str) -> str:
    return url.removesuffix("/mcp")


async def test_probes_answer_without_auth(cluster: Cluster) -> None:
    async with httpx.AsyncClient() as http:
        for url in cluster.gateway_urls:
            health = await http.get(_base(url) + "/healthz")
            ready = await http.get(_base(url) + "/readyz")
            assert health.status_code == 200
            assert ready.status_code == 200
            assert ready.json() == {"status": "ready", "nats": "ok", "redis": "ok"}


def _authorization(cluster: Cluster, kind: str) -> str | None:
    other_key = KeyPair.generate()
    return {
        "missing": None,
        "garbage": "Bearer not-a-jwt",
        "wrong-scheme": "Basic dXNlcjpwYXNz",
        "other-key": "Bearer " + mint_token(other_key, subject="someone"),
        "expired": "Bearer " + mint_token(cluster.keys, subject="a", now=1, ttl_seconds=60),
        "wrong-audience": "Bearer " + mint_token(cluster.keys, subject="a", audience="other"),
        "wrong-issuer": "Bearer " + mint_token(cluster.keys, subject="a", issuer="evil"),
    }[kind]


@pytest.mark.parametrize(
    "kind",
    [
        "missing",
        "garbage",
        "wrong-scheme",
        "other-key",
        "expired",
        "wrong-audience",
        "wrong-issuer",
    ],
)
async def test_mcp_requires_a_valid_bearer_token(
    cluster: Cluster, gateway_url: str, kind: str
) -> None:
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    authorization = _authorization(cluster, kind)
    if authorization:
        headers["Authorization"] = authorization
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    async with httpx.AsyncClient() as http:
        response = await http.post(gateway_url, json=body, headers=headers)
        valid = await http.post(
            gateway_url,
            json=body,
            headers={**headers, "Authorization": "Bearer " + cluster.token("a")},
        )
    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers
    assert valid.status_code != 401  # the same request with a good token gets through


async def test_ping_and_surface_in_both_eras(
    connect: Connect, gateway_url: str, athlete_id: str, era: str
) -> None:
    async with connect(gateway_url, athlete_id, era) as client:
        pong = await client.call_tool("ping", {})
        assert pong.structured_content is not None
        assert pong.structured_content["ok"] is True
        tools = {t.name: t for t in await client.list_tools()}
        assert set(tools) >= RUNS_TOOLS
        for name, tool in tools.items():
            assert tool.output_schema is not None, f"{name} declares an output schema"
            assert tool.annotations is not None, f"{name} has annotations"
        hints = {name: tool.annotations for name, tool in tools.items()}
        assert hints["list_runs"] is not None and hints["list_runs"].read_only_hint is True
        assert hints["delete_run"] is not None and hints["delete_run"].destructive_hint is True
        assert hints["log_run"] is not None and hints["log_run"].idempotent_hint is False
        assert "athlete_id" not in tools["log_run"].input_schema["properties"]
        uris = {str(r.uri) for r in await client.list_resources()}
        assert {"athlete://me/profile", "runs://me/recent", "shoes://me"} <= uris
        templates = {t.uri_template for t in await client.list_resource_templates()}
        assert "runs://me/summary/{period}" in templates
