"""`AccessControl`: the access bounded context's commands and queries.

Writes append to the event store (so every key, grant and denial has an audit trail and survives
a Redis flush), then project inline so the next call on any gateway replica sees them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

import redis.asyncio as aioredis
from maratron_contracts.access import (
    AccessGranted,
    AccessRevoked,
    ApiKeyInfo,
    ApiKeyIssued,
    ApiKeyRevoked,
    CallRejected,
    Denial,
    DenialReason,
    Grant,
    GrantList,
    GrantScope,
)
from maratron_contracts.envelope import Actor, EventMetadata, NewEvent
from maratron_contracts.errors import NotFound, ValidationFailed
from maratron_contracts.messages import Event
from maratron_eventstore import EventStore
from maratron_projections import Keys, Projector

from maratron_access import apikeys
from maratron_access.projections import (
    AccessProjection,
    denials,
    grants_given,
    grants_received,
    key_record,
    subject_keys,
)

log = logging.getLogger(__name__)
ANONYMOUS = "anonymous"


def _now() -> datetime:
    return datetime.now(UTC)


class AccessControl:
    def __init__(self, store: EventStore, redis: aioredis.Redis, keys: Keys) -> None:
        self._store = store
        self._redis = redis
        self._keys = keys
        self._projector = Projector(redis, store, [AccessProjection()], keys)

    @property
    def projection(self) -> AccessProjection:
        return AccessProjection()

    async def _append(
        self, stream_id: str, owner: str, events: Sequence[Event], actor: Actor
    ) -> None:
        new = [
            NewEvent(
                event_type=e.event_type,
                schema_version=e.schema_version,
                data=e.model_dump(mode="json"),
            )
            for e in events
        ]
        result = await self._store.append(
            stream_id, owner, new, expected_version=None, metadata=EventMetadata(actor=actor)
        )
        first = result.stream_version - len(new) + 1
        await self._projector.apply(await self._store.read_stream(stream_id, from_version=first))

    # -- API keys -----------------------------------------------------------------------------
    async def issue_key(
        self,
        subject: str,
        scopes: Sequence[str],
        *,
        roles: Sequence[str] = (),
        name: str | None = None,
        expires_at: datetime | None = None,
        actor: Actor | None = None,
    ) -> tuple[ApiKeyInfo, str]:
        """Create a key; the plaintext is returned once and never stored."""
        if not subject.strip():
            raise ValidationFailed("subject must not be empty: pass the athlete or service id")
        if expires_at is not None and expires_at <= _now():
            raise ValidationFailed("expires_at is in the past: give a future time or none")
        new = apikeys.generate()
        issued = ApiKeyIssued(
            key_id=new.key_id,
            subject=subject,
            scopes=sorted(set(scopes)),
            roles=sorted(set(roles)),
            secret_sha256=new.secret_sha256,
            name=name,
            expires_at=expires_at,
        )
        await self._append(f"apikey:{new.key_id}", subject, [issued], actor or Actor.system("cli"))
        info = await self.get_key(new.key_id)
        assert info is not None
        return info, new.plaintext

    async def get_key(self, key_id: str) -> ApiKeyInfo | None:
        raw = await self._redis.get(key_record(self._keys, key_id))
        return None if raw is None else ApiKeyInfo.model_validate_json(raw)

    async def list_keys(self, subject: str | None = None) -> list[ApiKeyInfo]:
        if subject is not None:
            members = await self._redis.smembers(subject_keys(self._keys, subject))
            ids = sorted(m.decode() if isinstance(m, bytes) else m for m in members)
            raws = await self._redis.mget([key_record(self._keys, i) for i in ids]) if ids else []
        else:
            pattern = key_record(self._keys, "*")
            found = [k async for k in self._redis.scan_iter(match=pattern, count=500)]
            raws = await self._redis.mget(found) if found else []
        keys = [ApiKeyInfo.model_validate_json(r) for r in raws if r is not None]
        return sorted(keys, key=lambda k: k.created_at)

    async def revoke_key(self, key_id: str, actor: Actor | None = None) -> ApiKeyInfo:
        info = await self.get_key(key_id)
        if info is None:
            raise NotFound(f"no API key {key_id!r}: `maratron keys list` shows the key ids")
        if not info.revoked:
            await self._append(
                f"apikey:{key_id}",
                info.subject,
                [ApiKeyRevoked(key_id=key_id)],
                actor or Actor.system("cli"),
            )
        revoked = await self.get_key(key_id)
        assert revoked is not None
        return revoked

    async def verify_key(self, token: str) -> ApiKeyInfo | None:
        """The key's info when `token` is a valid, unexpired, unrevoked key; else None."""
        parsed = apikeys.parse(token)
        if parsed is None:
            return None
        key_id, secret = parsed
        raw = await self._redis.get(key_record(self._keys, key_id))
        if raw is None:
            return None
        record = json.loads(raw)
        if not apikeys.secret_matches(secret, record.pop("secret_sha256", "")):
            return None
        info = ApiKeyInfo.model_validate(record)
        if info.revoked or (info.expires_at is not None and info.expires_at <= _now()):
            return None
        return info

    # -- coach grants -------------------------------------------------------------------------
    async def grant(
        self,
        athlete_id: str,
        coach: str,
        scope: GrantScope,
        actor: Actor,
        expires_at: datetime | None = None,
    ) -> Grant:
        if coach == athlete_id:
            raise ValidationFailed(
                "you cannot grant access to yourself: name another subject as coach"
            )
        if not coach.strip():
            raise ValidationFailed("coach must be the coach's subject (their login id)")
        if expires_at is not None and expires_at <= _now():
            raise ValidationFailed("expires_at is in the past: give a future time or omit it")
        event = AccessGranted(
            athlete_id=athlete_id, coach=coach, scope=scope, expires_at=expires_at
        )
        await self._append(f"grants:{athlete_id}", athlete_id, [event], actor)
        grant = await self.grant_for(coach, athlete_id)
        assert grant is not None
        return grant

    async def revoke(self, athlete_id: str, coach: str, actor: Actor) -> None:
        if await self._redis.hget(grants_given(self._keys, athlete_id), coach) is None:
            raise NotFound(f"{coach!r} has no access to revoke: list_grants shows your grants")
        event = AccessRevoked(athlete_id=athlete_id, coach=coach)
        await self._append(f"grants:{athlete_id}", athlete_id, [event], actor)

    async def grant_for(self, coach: str, athlete_id: str) -> Grant | None:
        """The active grant letting `coach` act on `athlete_id`'s data, if any."""
        raw = await self._redis.hget(grants_given(self._keys, athlete_id), coach)
        if raw is None:
            return None
        grant = Grant.model_validate_json(raw)
        return grant if grant.active(_now()) else None

    async def list_grants(self, subject: str) -> GrantList:
        pipe = self._redis.pipeline(transaction=False)
        pipe.hvals(grants_given(self._keys, subject))
        pipe.hvals(grants_received(self._keys, subject))
        given_raw, received_raw = await pipe.execute()
        now = _now()
        given = [g for g in map(Grant.model_validate_json, given_raw) if g.active(now)]
        received = [g for g in map(Grant.model_validate_json, received_raw) if g.active(now)]
        return GrantList(
            given=sorted(given, key=lambda g: g.coach),
            received=sorted(received, key=lambda g: g.athlete_id),
        )

    # -- denials ------------------------------------------------------------------------------
    async def record_denial(
        self,
        reason: DenialReason,
        message: str,
        *,
        principal: str | None,
        client_id: str | None = None,
        replica: str | None = None,
        tool: str | None = None,
    ) -> None:
        """Record a refused call. Never raises: auditing must not turn a 401 into a 500."""
        who = principal or ANONYMOUS
        event = CallRejected(
            principal=who,
            client_id=client_id,
            replica=replica,
            tool=tool,
            reason=reason,
            message=message[:500],
        )
        actor = Actor(
            subject=who, client_id=client_id, auth_method="none" if principal is None else None
        )
        try:
            await self._append(f"denials:{who}", who, [event], actor)
        except Exception:
            log.exception("could not record a denied call", extra={"principal": who, "tool": tool})

    async def denials(self, principal: str, limit: int = 100) -> list[Denial]:
        raws = await self._redis.lrange(denials(self._keys, principal), 0, limit - 1)
        return [Denial.model_validate_json(r) for r in raws]
