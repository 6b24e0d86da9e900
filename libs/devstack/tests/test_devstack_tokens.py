"""Development key pair and JWTs."""

from __future__ import annotations

import stat
from pathlib import Path

import jwt
import pytest
from maratron_devstack.tokens import (
    DEV_SCOPES,
    KeyPair,
    key_paths,
    load_or_create_keypair,
    mint_token,
    verify_token,
)


def test_keypair_is_created_once_with_private_modes(tmp_path: Path) -> None:
    keys_dir = tmp_path / "keys"
    first = load_or_create_keypair(keys_dir)
    second = load_or_create_keypair(keys_dir)
    assert first == second
    for path in key_paths(keys_dir):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert b"BEGIN PUBLIC KEY" in first.public_pem


def test_minted_token_verifies_with_every_claim(tmp_path: Path) -> None:
    keys = load_or_create_keypair(tmp_path)
    token = mint_token(keys, subject="athlete-7", roles=["admin"], client_id="cli", now=1_000)
    claims = verify_token(token, keys.public_pem, at=1_500)
    assert claims["sub"] == "athlete-7"
    assert claims["iss"] == "maratron-dev" and claims["aud"] == "maratron"
    assert claims["scope"].split() == list(DEV_SCOPES)
    assert claims["roles"] == ["admin"] and claims["client_id"] == "cli"
    assert claims["exp"] - claims["iat"] == 30 * 24 * 3600
    assert jwt.get_unverified_header(token)["kid"] == keys.kid


def test_tokens_have_unique_ids(tmp_path: Path) -> None:
    keys = load_or_create_keypair(tmp_path)
    first = verify_token(mint_token(keys), keys.public_pem)
    second = verify_token(mint_token(keys), keys.public_pem)
    assert first["jti"] != second["jti"]


def test_expired_foreign_and_misaddressed_tokens_are_rejected(tmp_path: Path) -> None:
    keys = load_or_create_keypair(tmp_path)
    with pytest.raises(jwt.ExpiredSignatureError):
        verify_token(mint_token(keys, ttl_seconds=1, now=1_000), keys.public_pem)
    with pytest.raises(jwt.InvalidSignatureError):
        verify_token(mint_token(KeyPair.generate()), keys.public_pem)
    with pytest.raises(jwt.InvalidAudienceError):
        verify_token(mint_token(keys, audience="other"), keys.public_pem)
    with pytest.raises(jwt.InvalidIssuerError):
        verify_token(mint_token(keys, issuer="other"), keys.public_pem)
