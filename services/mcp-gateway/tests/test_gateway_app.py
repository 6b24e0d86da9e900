"""The ASGI app's plain routes and settings, without starting its connections."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from maratron_devstack.tokens import KeyPair
from maratron_gateway.server import build_app
from maratron_gateway.settings import GatewaySettings


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "jwt-public.pem"
    path.write_bytes(KeyPair.generate().public_pem)
    return path


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch, key_file: Path) -> None:
    for name, value in {
        "MARATRON_GATEWAY_PORT": "8123",
        "MARATRON_GATEWAY_HOST": "0.0.0.0",
        "MARATRON_JWT_PUBLIC_KEY_FILE": str(key_file),
        "MARATRON_JWT_ISSUER": "https://issuer.example.org",
        "MARATRON_AUTHORIZATION_SERVERS": '["https://issuer.example.org"]',
        "MARATRON_NAMESPACE": "envns",
        "MARATRON_COMMAND_TIMEOUT_S": "2.5",
    }.items():
        monkeypatch.setenv(name, value)
    s = GatewaySettings(_env_file=None)  # type: ignore[call-arg]
    assert (s.gateway_host, s.gateway_port, s.namespace) == ("0.0.0.0", 8123, "envns")
    assert (s.jwt_issuer, s.jwt_audience) == ("https://issuer.example.org", "maratron")
    assert s.authorization_servers == ["https://issuer.example.org"]
    assert s.command_timeout_s == 2.5
    assert s.jwt_public_key() == key_file.read_text()


def test_http_mode_refuses_to_start_without_a_key() -> None:
    with pytest.raises(ValueError, match="MARATRON_JWT_PUBLIC_KEY_FILE"):
        build_app(GatewaySettings(_env_file=None))  # type: ignore[call-arg]


async def test_probes_and_protected_resource_metadata(key_file: Path) -> None:
    settings = GatewaySettings(
        _env_file=None,  # type: ignore[call-arg]
        jwt_public_key_file=key_file,
        public_url="https://mcp.example.org",
        authorization_servers=["https://issuer.example.org"],
    )
    transport = httpx.ASGITransport(app=build_app(settings))  # lifespan not run: not connected
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        assert (await http.get("/healthz")).status_code == 200
        ready = await http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["unreachable"] == "nats, redis"
        meta = await http.get("/.well-known/oauth-protected-resource/mcp")
        assert meta.status_code == 200
        assert meta.json()["authorization_servers"] == ["https://issuer.example.org"]
        assert meta.json()["resource"] == "https://mcp.example.org/mcp"
        unauthorized = await http.post("/mcp", json={})
        assert unauthorized.status_code == 401
        assert "resource_metadata" in unauthorized.headers["WWW-Authenticate"]
