"""Crypto-shredding of personal fields: AES-256-GCM with one key per athlete.

A personal field is stored as ``{"$enc": "<base64(nonce || ciphertext)>"}``; the associated data
binds the ciphertext to its athlete, event and field, so it cannot be moved elsewhere. Once the
athlete's key is deleted the field reads as ``"[erased]"``. Only the top-level fields named in an
event class's ``personal_fields`` are protected.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Collection, Mapping
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MARKER = "$enc"
ERASED = "[erased]"
_NONCE_BYTES = 12


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def _aad(athlete_id: str, event_id: str, field: str) -> bytes:
    return f"{athlete_id}\x1f{event_id}\x1f{field}".encode()


def encrypt_fields(
    data: Mapping[str, Any],
    fields: Collection[str],
    key: bytes | None,
    *,
    athlete_id: str,
    event_id: str,
) -> dict[str, Any]:
    """A copy of `data` whose personal `fields` are encrypted (or dropped to ERASED: no key)."""
    out = dict(data)
    aead = AESGCM(key) if key is not None else None
    for field in fields:
        if field not in out or out[field] is None:
            continue
        if aead is None:  # the athlete was erased: personal data is never written
            out[field] = ERASED
            continue
        nonce = os.urandom(_NONCE_BYTES)
        sealed = aead.encrypt(nonce, orjson.dumps(out[field]), _aad(athlete_id, event_id, field))
        out[field] = {MARKER: base64.b64encode(nonce + sealed).decode()}
    return out


def is_sealed(value: Any) -> bool:
    return type(value) is dict and len(value) == 1 and MARKER in value


# How a sealed field's marker key appears in Postgres's jsonb text: a cheap pre-filter.
SEALED_TEXT = f'"{MARKER}"'


def has_sealed(data: Mapping[str, Any]) -> bool:
    return any(is_sealed(v) for v in data.values())


def decrypt_fields(
    data: Mapping[str, Any], key: bytes | None, *, athlete_id: str, event_id: str
) -> dict[str, Any]:
    """A copy of `data` with sealed fields opened, or ERASED when the key is gone or wrong."""
    out = dict(data)
    aead = AESGCM(key) if key is not None else None
    for field, value in data.items():
        if not is_sealed(value):
            continue
        if aead is None:
            out[field] = ERASED
            continue
        raw = base64.b64decode(value[MARKER])
        try:
            plain = aead.decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _aad(athlete_id, event_id, field)
            )
        except InvalidTag:
            out[field] = ERASED
            continue
        out[field] = orjson.loads(plain)
    return out
