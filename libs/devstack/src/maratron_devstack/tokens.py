"""Development JWTs: an RS256 key pair kept in the data folder, and token minting/verification.

The gateway verifies tokens with the public key (MARATRON_JWT_PUBLIC_KEY_FILE), issuer
`maratron-dev` and audience `maratron`. Claims: iss, aud, sub, iat, exp, jti, scope
(space-separated), roles (list) and, optionally, client_id.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.types import Options

DEV_ISSUER = "maratron-dev"
DEV_AUDIENCE = "maratron"
DEV_SUBJECT = "athlete-dev"
DEV_SCOPES = ("runs:read", "runs:write", "context:read", "context:write", "insights:read")
DEV_TTL_SECONDS = 30 * 24 * 3600
PRIVATE_KEY_FILE = "jwt-private.pem"
PUBLIC_KEY_FILE = "jwt-public.pem"


@dataclass(frozen=True)
class KeyPair:
    private_pem: bytes
    public_pem: bytes

    @property
    def kid(self) -> str:
        """Key id: a fingerprint of the public key."""
        return hashlib.sha256(self.public_pem).hexdigest()[:16]

    @classmethod
    def generate(cls) -> KeyPair:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return cls(private_pem, public_pem)


def _write_private(path: Path, content: bytes) -> None:
    """Create `path` with mode 0600 from the start (no window where it is world-readable)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(content)


def key_paths(keys_dir: Path) -> tuple[Path, Path]:
    return keys_dir / PRIVATE_KEY_FILE, keys_dir / PUBLIC_KEY_FILE


def load_or_create_keypair(keys_dir: Path) -> KeyPair:
    """The key pair in `keys_dir`, generated on first use (both files 0600, folder 0700)."""
    private_path, public_path = key_paths(keys_dir)
    if private_path.exists() and public_path.exists():
        return KeyPair(private_path.read_bytes(), public_path.read_bytes())
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    pair = KeyPair.generate()
    for path in (private_path, public_path):
        path.unlink(missing_ok=True)  # a half-written pair from an interrupted first run
    _write_private(public_path, pair.public_pem)
    _write_private(private_path, pair.private_pem)
    return pair


def load_keypair(keys_dir: Path) -> KeyPair:
    """The existing key pair in `keys_dir` (FileNotFoundError when there is none)."""
    private_path, public_path = key_paths(keys_dir)
    return KeyPair(private_path.read_bytes(), public_path.read_bytes())


def mint_token(
    keys: KeyPair,
    *,
    subject: str = DEV_SUBJECT,
    scopes: Iterable[str] = DEV_SCOPES,
    roles: Iterable[str] = (),
    ttl_seconds: int = DEV_TTL_SECONDS,
    issuer: str = DEV_ISSUER,
    audience: str = DEV_AUDIENCE,
    client_id: str | None = None,
    now: int | None = None,
) -> str:
    """An RS256 JWT for `subject`."""
    issued_at = int(time.time()) if now is None else now
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "iat": issued_at,
        "exp": issued_at + ttl_seconds,
        "jti": secrets.token_hex(16),
        "scope": " ".join(scopes),
        "roles": list(roles),
    }
    if client_id is not None:
        claims["client_id"] = client_id
    return jwt.encode(claims, keys.private_pem, algorithm="RS256", headers={"kid": keys.kid})


def verify_token(
    token: str,
    public_pem: bytes,
    *,
    issuer: str = DEV_ISSUER,
    audience: str = DEV_AUDIENCE,
    at: int | None = None,
) -> dict[str, Any]:
    """The claims of a valid token; raises `jwt.InvalidTokenError` otherwise.

    `at` checks expiry as of that Unix time instead of now (to verify tokens minted with `now`).
    """
    options: Options = {
        "require": ["iss", "aud", "sub", "iat", "exp", "jti"],
        "verify_exp": at is None,
    }
    claims: dict[str, Any] = jwt.decode(
        token, public_pem, algorithms=["RS256"], issuer=issuer, audience=audience, options=options
    )
    if at is not None and claims["exp"] <= at:
        raise jwt.ExpiredSignatureError("Signature has expired")
    return claims
