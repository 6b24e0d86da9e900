"""JWT verification and the acting Actor (pure: no stack needed)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from maratron_contracts.envelope import Actor
from maratron_contracts.errors import Forbidden
from maratron_gateway.auth import MaratronJWTVerifier, actor_from_token, target_athlete

ISSUER, AUDIENCE = "maratron-dev", "maratron"


def _keypair() -> tuple[bytes, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public.decode()


PRIVATE, PUBLIC = _keypair()
OTHER_PRIVATE, _ = _keypair()


def _token(private: bytes = PRIVATE, *, drop: tuple[str, ...] = (), **claims: Any) -> str:
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "ath-1",
        "iat": now,
        "exp": now + 600,
        "scope": "runs:read runs:write",
        "roles": ["athlete"],
        "client_id": "claude",
    }
    body.update(claims)
    for name in drop:
        body.pop(name)
    return jwt.encode(body, private, algorithm="RS256")


def _b64(obj: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


@pytest.fixture
def verifier() -> MaratronJWTVerifier:
    return MaratronJWTVerifier(public_key=PUBLIC, issuer=ISSUER, audience=AUDIENCE)


async def test_valid_token_gives_actor_from_claims(verifier: MaratronJWTVerifier) -> None:
    access = await verifier.verify_token(_token(roles=["athlete", "admin"]))
    assert access is not None
    actor = actor_from_token(access)
    assert actor == Actor(
        subject="ath-1",
        roles=("athlete", "admin"),
        scopes=("runs:read", "runs:write"),
        client_id="claude",
        auth_method="jwt",
    )
    assert actor.is_admin


@pytest.mark.parametrize(
    ("private", "drop", "claims"),
    [
        pytest.param(PRIVATE, (), {"iss": "someone-else"}, id="wrong-issuer"),
        pytest.param(PRIVATE, (), {"aud": "other-api"}, id="wrong-audience"),
        pytest.param(PRIVATE, (), {"exp": int(time.time()) - 5}, id="expired"),
        pytest.param(PRIVATE, ("exp",), {}, id="no-expiry"),
        pytest.param(PRIVATE, ("sub",), {}, id="no-subject"),
        pytest.param(PRIVATE, ("iss",), {}, id="no-issuer"),
        pytest.param(PRIVATE, ("aud",), {}, id="no-audience"),
        pytest.param(OTHER_PRIVATE, (), {}, id="signed-by-another-key"),
    ],
)
async def test_bad_tokens_are_rejected(
    verifier: MaratronJWTVerifier, private: bytes, drop: tuple[str, ...], claims: dict[str, Any]
) -> None:
    assert await verifier.verify_token(_token(private, drop=drop, **claims)) is None


async def test_hs256_token_signed_with_the_public_key_is_rejected(
    verifier: MaratronJWTVerifier,
) -> None:
    """Algorithm confusion: an HMAC token keyed with the (public) RSA key must not pass."""
    now = int(time.time())
    header = _b64({"alg": "HS256", "typ": "JWT"})
    payload = _b64({"iss": ISSUER, "aud": AUDIENCE, "sub": "admin", "exp": now + 600})
    signing_input = f"{header}.{payload}".encode()
    mac = hmac.new(PUBLIC.encode(), signing_input, hashlib.sha256).digest()
    forged = f"{header}.{payload}." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    assert await verifier.verify_token(forged) is None


async def test_roles_as_space_separated_string(verifier: MaratronJWTVerifier) -> None:
    access = await verifier.verify_token(_token(roles="athlete admin", client_id=None))
    assert access is not None
    actor = actor_from_token(access)
    assert actor.roles == ("athlete", "admin")
    assert actor.client_id is None


def test_target_athlete_is_the_caller_unless_admin() -> None:
    me = Actor(subject="a1")
    admin = Actor(subject="ops", roles=("admin",))
    assert target_athlete(me, None) == "a1"
    assert target_athlete(me, "a1") == "a1"
    assert target_athlete(admin, "a1") == "a1"
    with pytest.raises(Forbidden) as info:
        target_athlete(me, "a2")
    assert "a2" not in info.value.message
