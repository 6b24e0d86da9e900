"""Advisory-lock keys derived from a namespace, so installs sharing one Postgres never contend."""

from __future__ import annotations

import hashlib


def advisory_key(namespace: str, purpose: str) -> int:
    """A stable signed 64-bit key for `pg_advisory_*lock`, unique per (namespace, purpose)."""
    digest = hashlib.blake2b(f"maratron:{namespace}:{purpose}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
