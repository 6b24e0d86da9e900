"""API key format: ``mrt_<key_id>_<secret>``.

The key id is public (it names the key in listings and in revocation); the secret is 256 random
bits and only its SHA-256 is stored. A plain hash is enough for a high-entropy secret: there is
nothing to brute-force, so a slow password hash would only add latency to every call.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

PREFIX = "mrt_"


@dataclass(frozen=True)
class NewKey:
    key_id: str
    plaintext: str
    secret_sha256: str


def generate() -> NewKey:
    key_id = secrets.token_hex(6)
    secret = secrets.token_hex(32)
    return NewKey(key_id, f"{PREFIX}{key_id}_{secret}", hash_secret(secret))


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def looks_like_key(token: str) -> bool:
    return token.startswith(PREFIX)


def parse(token: str) -> tuple[str, str] | None:
    """(key_id, secret) of a well-formed key, else None."""
    if not looks_like_key(token):
        return None
    key_id, sep, secret = token[len(PREFIX) :].partition("_")
    if not sep or len(key_id) != 12 or len(secret) != 64:
        return None
    return key_id, secret


def secret_matches(secret: str, expected_sha256: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), expected_sha256)
