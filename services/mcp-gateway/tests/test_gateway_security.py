"""The gateway's security layer in-process: policy coverage, refusal classification, the
verifier chain (API keys, ES256, pinned algorithms), grants in target_athlete, the HTTP layer
(body limit, audit of refusals), and - on the stack - output limit, error masking and the
fail-closed answer when Redis is unreachable."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastmcp import Client, FastMCP
from fastmcp.exceptions import ToolError
from fastmcp.exceptions import ValidationError as FastMCPValidationError
from maratron_contracts.access import ApiKeyInfo, DenialReason
from maratron_contracts.envelope import Actor
from maratron_contracts.errors import Forbidden, NotFound, ValidationFailed
from maratron_gateway.auth import actor_from_token, target_athlete
from maratron_gateway.deps import GatewayDeps
from maratron_gateway.security.denials import Denied, classify
from maratron_gateway.security.grants import acting_for
from maratron_gateway.security.http import BodyLimit, HttpDenialAudit
from maratron_gateway.security.policy import resource_policy, tool_policy
from maratron_gateway.security.verifier import GatewayTokenVerifier, build_jwt_verifier
from maratron_gateway.server import build_gateway
from maratron_gateway.settings import GatewaySettings
from maratron_service.testing import drop_namespace, settings_for
from maratron_testing.plugin import StackUrls
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ISSUER, AUDIENCE = "maratron-dev", "maratron"


@pytest.fixture(scope="module")
def ec_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = tmp_path_factory.mktemp("keys") / "ec-public.pem"
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, path


def _settings(key_file: Path, **extra: Any) -> GatewaySettings:
    return GatewaySettings(_env_file=None, jwt_public_key_file=key_file, **extra)  # type: ignore[call-arg]


# -- policy ---------------------------------------------------------------------------------
async def test_every_tool_and_resource_has_a_policy(ec_key: tuple[bytes, Path]) -> None:
    mcp = build_gateway(_settings(ec_key[1]))
    tools = [t.name for t in await mcp.list_tools(run_middleware=False)]
    assert "grant_access" in tools and "usage_report" in tools
    assert [t for t in tools if tool_policy(t) is None] == []
    uris = [str(r.uri) for r in await mcp.list_resources(run_middleware=False)]
    uris += [t.uri_template for t in await mcp.list_resource_templates(run_middleware=False)]
    assert [u for u in uris if resource_policy(u) is None] == []
    assert tool_policy("not_a_tool") is None and resource_policy("file:///etc/passwd") is None


def test_refusals_are_classified_through_wrapping() -> None:
    def wrapped(inner: BaseException) -> ToolError:
        try:
            try:
                raise inner
            except Exception:
                raise ToolError("translated") from None
        except ToolError as outer:
            return outer

    assert classify(wrapped(Forbidden("no"))) == DenialReason.FORBIDDEN
    assert classify(wrapped(ValidationFailed("bad"))) == DenialReason.INVALID_INPUT
    assert classify(wrapped(FastMCPValidationError("bad"))) == DenialReason.INVALID_INPUT
    assert classify(Denied(DenialReason.RATE_LIMITED, "slow down")) == DenialReason.RATE_LIMITED
    assert classify(wrapped(NotFound("missing"))) is None
    assert classify(RuntimeError("boom")) is None


# -- verifier chain -------------------------------------------------------------------------
class FakeAccess:
    def __init__(self, info: ApiKeyInfo | None) -> None:
        self.info = info
        self.seen: list[str] = []

    async def verify_key(self, token: str) -> ApiKeyInfo | None:
        self.seen.append(token)
        return self.info


KEY = "mrt_0123456789ab_" + "a" * 64


async def test_api_keys_take_subject_scopes_and_roles_from_the_record(
    ec_key: tuple[bytes, Path],
) -> None:
    info = ApiKeyInfo(
        key_id="0123456789ab",
        subject="ath-key",
        scopes=["runs:read"],
        roles=["admin"],
        created_at=datetime.now(UTC),
        expires_at=datetime.now(UTC) + timedelta(hours=1),
    )
    fake = FakeAccess(info)
    verifier = GatewayTokenVerifier(build_jwt_verifier(_settings(ec_key[1])), lambda: fake)  # type: ignore[arg-type,return-value]
    token = await verifier.verify_token(KEY)
    assert token is not None
    actor = actor_from_token(token)
    assert actor == Actor(
        subject="ath-key",
        roles=("admin",),
        scopes=("runs:read",),
        client_id="apikey:0123456789ab",
        auth_method="api_key",
    )
    fake.info = None  # revoked / unknown / expired: the store says no
    assert await verifier.verify_token(KEY) is None


async def test_jwts_es256_by_key_type_and_algorithms_pinned(ec_key: tuple[bytes, Path]) -> None:
    private, public_file = ec_key
    fake = FakeAccess(None)
    verifier = GatewayTokenVerifier(build_jwt_verifier(_settings(public_file)), lambda: fake)  # type: ignore[arg-type,return-value]
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "ath-ec",
        "iat": now,
        "exp": now + 60,
        "scope": "runs:read",
        "roles": ["coach"],
        "client_id": "cursor",
    }
    token = await verifier.verify_token(jwt.encode(claims, private, algorithm="ES256"))
    assert token is not None
    actor = actor_from_token(token)
    assert (actor.subject, actor.auth_method, actor.roles) == ("ath-ec", "jwt", ("coach",))
    # a JWT cannot pose as an API key by its claims
    forged = jwt.encode({**claims, "key_id": "x", "auth_method": "api_key"}, private, "ES256")
    forged_token = await verifier.verify_token(forged)
    assert forged_token is not None and actor_from_token(forged_token).auth_method == "jwt"
    hs = jwt.encode(claims, "shared-secret-that-is-long-enough-32b", algorithm="HS256")
    assert await verifier.verify_token(hs) is None
    assert (
        await verifier.verify_token(jwt.encode({**claims, "iss": "evil"}, private, "ES256")) is None
    )
    assert fake.seen == []  # JWTs never reach the key store


def test_target_athlete_admits_only_the_checked_grant() -> None:
    coach = Actor(subject="coach", scopes=("runs:read",))
    with pytest.raises(Forbidden):
        target_athlete(coach, "ath-1")
    with acting_for("ath-1"):
        assert target_athlete(coach, "ath-1") == "ath-1"
        with pytest.raises(Forbidden):
            target_athlete(coach, "ath-2")
    with pytest.raises(Forbidden):
        target_athlete(coach, "ath-1")
    assert target_athlete(Actor(subject="op", roles=("admin",)), "ath-2") == "ath-2"


# -- HTTP layer -----------------------------------------------------------------------------
class Recorded:
    def __init__(self) -> None:
        self.calls: list[tuple[DenialReason, str, dict[str, Any]]] = []

    def record(self, reason: DenialReason, message: str, **kw: Any) -> None:
        self.calls.append((reason, message, kw))


def _echo_app() -> Starlette:
    async def echo(request: Request) -> Response:
        return JSONResponse({"size": len(await request.body())})

    async def denied(request: Request) -> Response:
        return Response(
            status_code=401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
        )

    return Starlette(
        routes=[Route("/echo", echo, methods=["POST"]), Route("/mcp", denied, methods=["POST"])]
    )


async def test_body_limit_and_http_refusal_audit() -> None:
    recorded = Recorded()
    app = _echo_app()
    app.add_middleware(BodyLimit, max_bytes=1024)
    app.add_middleware(HttpDenialAudit, recorder=recorded)  # type: ignore[arg-type]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        assert (await http.post("/echo", content=b"x" * 1024)).json() == {"size": 1024}
        assert (await http.post("/echo", content=b"x" * 1025)).status_code == 413

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(5):
                yield b"y" * 400

        assert (await http.post("/echo", content=chunks())).status_code == 413
        assert (await http.post("/mcp", content=b"{}")).status_code == 401
    reasons = [(r, kw["tool"]) for r, _, kw in recorded.calls]
    assert reasons == [
        (DenialReason.INVALID_INPUT, "POST /echo"),
        (DenialReason.INVALID_INPUT, "POST /echo"),
        (DenialReason.UNAUTHORIZED, "POST /mcp"),
    ]
    assert 'error="invalid_token"' in recorded.calls[-1][1]


# -- on the stack: output limit, masking, Redis down ----------------------------------------
@pytest.fixture
async def local_gateway(
    maratron_stack: StackUrls, namespace: str
) -> AsyncIterator[tuple[FastMCP[Any], GatewayDeps]]:
    settings = settings_for(
        maratron_stack, GatewaySettings, namespace, stdio_subject="ath-local", max_output_bytes=1024
    )
    deps = GatewayDeps.create(settings, stdio=True)
    try:
        yield build_gateway(settings, stdio=True, deps=deps), deps
    finally:
        await drop_namespace(maratron_stack, namespace)


async def test_output_limit_masking_and_fail_closed(
    local_gateway: tuple[FastMCP[Any], GatewayDeps],
) -> None:
    mcp, deps = local_gateway
    async with Client(mcp) as client:
        for i in range(12):
            await client.call_tool("grant_access", {"coach": f"coach-{i:02d}-{'x' * 40}"})
        with pytest.raises(ToolError, match=r"result of list_grants is too large .* limit 1024"):
            await client.call_tool("list_grants", {})

        class Broken:
            async def list_runs(self, *a: Any, **kw: Any) -> Any:
                raise RuntimeError('SELECT secret FROM "athletes" -- Traceback (most recent)')

        deps._runs = Broken()  # type: ignore[assignment]
        result = await client.call_tool("list_runs", {}, raise_on_error=False)
        text = " ".join(getattr(b, "text", "") for b in result.content)
        assert result.is_error and text == "Error calling tool 'list_runs'"

        await deps.redis.aclose()
        deps._limiter._redis = deps._limiter._script.registered_client = _dead_redis()  # type: ignore[union-attr]
        with pytest.raises(Exception, match="cannot check access right now; retry"):
            await client.call_tool("ping", {})


def _dead_redis() -> Any:
    from redis.asyncio import Redis

    return Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)


async def test_verified_jwts_are_cached_only_until_they_expire(
    ec_key: tuple[bytes, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    private, public_file = ec_key
    verifier = GatewayTokenVerifier(build_jwt_verifier(_settings(public_file)), lambda: None)  # type: ignore[arg-type,return-value]
    now = time.time()
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "ath-c", "iat": int(now), "exp": int(now) + 60}
    token = jwt.encode(claims, private, algorithm="ES256")
    first = await verifier.verify_token(token)
    assert first is not None and await verifier.verify_token(token) is first  # from the cache
    monkeypatch.setattr(time, "time", lambda: now + 120)
    assert await verifier.verify_token(token) is None


async def test_http_level_required_scopes_get_403_insufficient_scope(
    ec_key: tuple[bytes, Path],
) -> None:
    from maratron_gateway.server import build_app

    private, public_file = ec_key
    app = build_app(_settings(public_file, required_scopes=["runs:read"]))
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "ath-s", "iat": now, "exp": now + 60}
    headers = {"Accept": "application/json, text/event-stream"}
    transport = httpx.ASGITransport(app=app)  # lifespan not run: refused before any tool
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        token = jwt.encode({**claims, "scope": "context:read"}, private, algorithm="ES256")
        response = await http.post(
            "/mcp", json={}, headers={**headers, "Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
