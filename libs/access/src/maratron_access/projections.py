"""Access read models in Redis.

access:key:{key_id}            JSON ApiKeyInfo + secret hash (for verification)
access:keys:{subject}          set of key ids of a subject
access:given:{athlete_id}      hash coach -> JSON Grant
access:received:{coach}        hash athlete -> JSON Grant
access:denials:{principal}     list of JSON Denial, newest first, capped
"""

from __future__ import annotations

import json
from typing import Any

from maratron_contracts.access import (
    AccessGranted,
    AccessRevoked,
    ApiKeyInfo,
    ApiKeyIssued,
    CallRejected,
    Denial,
    Grant,
)
from maratron_contracts.envelope import RecordedEvent
from maratron_projections import Keys
from redis.asyncio.client import Pipeline

DENIALS_KEPT = 1000


def key_record(keys: Keys, key_id: str) -> str:
    return keys("access", "key", key_id)


def subject_keys(keys: Keys, subject: str) -> str:
    return keys("access", "keys", subject)


def grants_given(keys: Keys, athlete_id: str) -> str:
    return keys("access", "given", athlete_id)


def grants_received(keys: Keys, coach: str) -> str:
    return keys("access", "received", coach)


def denials(keys: Keys, principal: str) -> str:
    return keys("access", "denials", principal)


class AccessProjection:
    name = "access"
    event_types = frozenset(
        {"ApiKeyIssued", "ApiKeyRevoked", "AccessGranted", "AccessRevoked", "CallRejected"}
    )

    async def apply(self, event: RecordedEvent, pipe: Pipeline, keys: Keys) -> None:
        data: dict[str, Any] = event.data
        if event.event_type == "ApiKeyRevoked":
            raw = await pipe.get(key_record(keys, data["key_id"]))
            pipe.multi()  # type: ignore[no-untyped-call]
            if raw is not None:
                record = json.loads(raw)
                record["revoked"] = True
                pipe.set(key_record(keys, data["key_id"]), json.dumps(record))
            return
        pipe.multi()  # type: ignore[no-untyped-call]
        match event.event_type:
            case "ApiKeyIssued":
                issued = ApiKeyIssued.model_validate(data)
                info = ApiKeyInfo(
                    key_id=issued.key_id,
                    subject=issued.subject,
                    scopes=issued.scopes,
                    roles=issued.roles,
                    name=issued.name,
                    created_at=event.recorded_at,
                    expires_at=issued.expires_at,
                )
                record = {**info.model_dump(mode="json"), "secret_sha256": issued.secret_sha256}
                pipe.set(key_record(keys, issued.key_id), json.dumps(record))
                pipe.sadd(subject_keys(keys, issued.subject), issued.key_id)
            case "AccessGranted":
                granted = AccessGranted.model_validate(data)
                grant = Grant(
                    athlete_id=granted.athlete_id,
                    coach=granted.coach,
                    scope=granted.scope,
                    granted_at=event.recorded_at,
                    expires_at=granted.expires_at,
                ).model_dump_json()
                pipe.hset(grants_given(keys, granted.athlete_id), granted.coach, grant)
                pipe.hset(grants_received(keys, granted.coach), granted.athlete_id, grant)
            case "AccessRevoked":
                revoked = AccessRevoked.model_validate(data)
                pipe.hdel(grants_given(keys, revoked.athlete_id), revoked.coach)
                pipe.hdel(grants_received(keys, revoked.coach), revoked.athlete_id)
            case "CallRejected":
                rejected = CallRejected.model_validate(data)
                denial = Denial(at=event.recorded_at, **rejected.model_dump()).model_dump_json()
                key = denials(keys, rejected.principal)
                pipe.lpush(key, denial)
                pipe.ltrim(key, 0, DENIALS_KEPT - 1)
