"""Token attacks over real HTTP: every bad credential gets 401 (with an RFC 9728 challenge),
nothing is executed, and the refusal is audited; valid API keys act with their record's
scopes; a missing scope is refused per tool."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastmcp.exceptions import ToolError
from maratron_access.control import AccessControl
from maratron_contracts.access import DenialReason
from maratron_devstack.tokens import KeyPair, mint_token
from maratron_eventstore import EventStore

from tests.e2e.cluster import Cluster
from tests.security.conftest import ISSUER_URL, Connect, domain_event_count, eventually

HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
LOG_RUN = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "tools/call",
    "params": {
        "name": "log_run",
        "arguments": {"date": "2026-11-01", "distance": 5, "duration": "25:00"},
    },
}


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _claims(subject: str) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": "maratron-dev",
        "aud": "maratron",
        "sub": subject,
        "iat": now,
        "exp": now + 600,
        "scope": "runs:read runs:write",
    }


def _unsigned(subject: str) -> str:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(_claims(subject)).encode())}."


def _hs256_with_public_key(cluster: Cluster, subject: str) -> str:
    """HS/RS confusion: HMAC-signed with the server's PUBLIC key as the shared secret."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps(_claims(subject)).encode())
    mac = hmac.new(cluster.keys.public_pem, f"{header}.{body}".encode(), hashlib.sha256)
    return f"{header}.{body}.{_b64(mac.digest())}"


def _forged_signature(cluster: Cluster, subject: str) -> str:
    good = mint_token(cluster.keys, subject=subject)
    head, body, sig = good.split(".")
    other = mint_token(KeyPair.generate(), subject=subject).split(".")[2]
    assert other != sig
    return f"{head}.{body}.{other}"


def _authorization(cluster: Cluster, kind: str, subject: str) -> str | None:
    keys = cluster.keys
    return {
        "missing": None,
        "malformed": "Bearer not.a.jwt",
        "expired": mint_token(keys, subject=subject, now=int(time.time()) - 7200, ttl_seconds=60),
        "wrong-issuer": mint_token(keys, subject=subject, issuer="https://evil.example"),
        "wrong-audience": mint_token(keys, subject=subject, audience="someone-else"),
        "bad-signature": _forged_signature(cluster, subject),
        "alg-none": _unsigned(subject),
        "hs256-public-key": _hs256_with_public_key(cluster, subject),
        "fake-api-key": "mrt_0123456789ab_" + "0" * 64,
    }[kind]


KINDS = [
    "missing",
    "malformed",
    "expired",
    "wrong-issuer",
    "wrong-audience",
    "bad-signature",
    "alg-none",
    "hs256-public-key",
    "fake-api-key",
]


async def _post(url: str, authorization: str | None) -> httpx.Response:
    headers = dict(HEADERS)
    if authorization is not None:
        headers["Authorization"] = (
            authorization if authorization.startswith("Bearer") else f"Bearer {authorization}"
        )
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(url, json=LOG_RUN, headers=headers)


async def _assert_refused(url: str, authorization: str | None, store: EventStore) -> httpx.Response:
    before = await domain_event_count(store)
    response = await _post(url, authorization)
    assert response.status_code == 401, response.text
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer")
    assert 'resource_metadata="http://127.0.0.1/.well-known/oauth-protected-resource/mcp"' in (
        challenge
    )
    assert await domain_event_count(store) == before, "nothing was executed"
    return response


@pytest.mark.parametrize("kind", KINDS)
async def test_bad_tokens_get_401_and_change_nothing(
    sec_cluster: Cluster, gateway: str, store: EventStore, kind: str
) -> None:
    subject = f"ath-{uuid.uuid4().hex[:10]}"
    await _assert_refused(gateway, _authorization(sec_cluster, kind, subject), store)


async def test_the_metadata_named_in_the_challenge_is_served(gateway: str) -> None:
    async with httpx.AsyncClient() as http:
        meta = await http.get(
            gateway.removesuffix("/mcp") + "/.well-known/oauth-protected-resource/mcp"
        )
    assert meta.status_code == 200
    assert meta.json()["authorization_servers"] == [ISSUER_URL]
    assert "runs:write" in meta.json()["scopes_supported"]


async def test_http_refusals_are_audited(gateway: str, access: AccessControl) -> None:
    before = len(await access.denials("anonymous", limit=1000))
    response = await _post(gateway, "Bearer not.a.jwt")
    assert response.status_code == 401

    async def recorded() -> bool:
        return len(await access.denials("anonymous", limit=1000)) > before

    assert await eventually(recorded)
    latest = (await access.denials("anonymous", limit=1))[0]
    assert latest.reason == DenialReason.UNAUTHORIZED
    assert latest.tool == "POST /mcp"
    assert latest.replica == "gateway-1"
    assert "not.a.jwt" not in latest.message


async def test_revoked_and_expired_api_keys_get_401(
    gateway: str, access: AccessControl, store: EventStore, connect: Connect
) -> None:
    subject = f"ath-{uuid.uuid4().hex[:10]}"
    scopes = ["runs:read", "runs:write"]
    _, revoked = await access.issue_key(subject, scopes, name="revoked")
    expiring, expired = await access.issue_key(
        subject, scopes, name="short", expires_at=datetime.now(UTC) + timedelta(seconds=1)
    )
    info, valid = await access.issue_key(subject, scopes, name="valid")

    # the valid key works and acts as its subject, through the api_key method
    async with connect(auth=valid) as client:
        out = await client.call_tool(
            "register_athlete", {"name": "Key Holder", "email": "k@example.org"}
        )
        assert out.structured_content is not None
        assert out.structured_content["athlete_id"] == subject
    events = await store.read_stream(f"athlete:{subject}")
    assert events[0].metadata.actor is not None
    assert events[0].metadata.actor.auth_method == "api_key"

    await access.revoke_key((await access.verify_key(revoked)).key_id)  # type: ignore[union-attr]

    async def lapsed() -> bool:
        return await access.verify_key(expired) is None

    assert await eventually(lapsed, within=15), f"key {expiring.key_id} should have expired"
    for key in (revoked, expired, valid[:-1] + ("1" if valid[-1] == "0" else "0")):
        await _assert_refused(gateway, key, store)
    assert info.subject == subject


async def test_missing_scope_is_a_clear_tool_error(
    sec_cluster: Cluster, connect: Connect, store: EventStore, access: AccessControl
) -> None:
    subject = f"ath-{uuid.uuid4().hex[:10]}"
    read_only = mint_token(sec_cluster.keys, subject=subject, scopes=["runs:read"])
    before = await domain_event_count(store)
    async with connect(auth=read_only) as client:
        with pytest.raises(ToolError, match=r"insufficient_scope: log_run needs the runs:write"):
            await client.call_tool(
                "log_run", {"date": "2026-11-01", "distance": 5, "duration": "25:00"}
            )
        with pytest.raises(ToolError, match="insufficient_scope"):
            await client.call_tool("training_load", {})
        pong = await client.call_tool("ping", {})  # needs no scope
        assert pong.structured_content is not None
    assert await domain_event_count(store) == before

    async def recorded() -> bool:
        reasons = [d.reason for d in await access.denials(subject)]
        return reasons.count(DenialReason.INSUFFICIENT_SCOPE) == 2

    assert await eventually(recorded)
