"""API keys, coach grants and denials against real Postgres and Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from maratron_access import apikeys
from maratron_access.control import AccessControl
from maratron_contracts.access import DenialReason, GrantScope
from maratron_contracts.envelope import Actor
from maratron_contracts.errors import NotFound, ValidationFailed
from maratron_contracts.registry import load_all
from maratron_eventstore import EventStore
from maratron_projections import Keys
from maratron_service.testing import drop_namespace
from maratron_testing.plugin import StackUrls
from redis.asyncio import Redis

ATHLETE = Actor(subject="athlete-a", scopes=("runs:read",))


@pytest.fixture
async def access(maratron_stack: StackUrls, namespace: str) -> AsyncIterator[AccessControl]:
    store = await EventStore.connect(
        maratron_stack.database_url, namespace=namespace, registry=load_all()
    )
    await store.migrate()
    redis = Redis.from_url(maratron_stack.redis_url)
    try:
        yield AccessControl(store, redis, Keys(namespace))
    finally:
        await redis.aclose()
        await store.close()
        await drop_namespace(maratron_stack, namespace)


def test_key_format_round_trips() -> None:
    new = apikeys.generate()
    parsed = apikeys.parse(new.plaintext)
    assert parsed is not None and parsed[0] == new.key_id
    assert apikeys.secret_matches(parsed[1], new.secret_sha256)
    assert apikeys.parse("mrt_short_x") is None
    assert apikeys.parse("eyJhbGciOi.jwt.token") is None


async def test_issued_key_verifies_until_revoked(access: AccessControl) -> None:
    info, plaintext = await access.issue_key("athlete-a", ["runs:read", "runs:write"], name="watch")
    assert plaintext not in str(info.model_dump())
    verified = await access.verify_key(plaintext)
    assert verified is not None and verified.subject == "athlete-a"
    assert verified.scopes == ["runs:read", "runs:write"]
    assert [k.key_id for k in await access.list_keys("athlete-a")] == [info.key_id]

    tampered = plaintext[:-1] + ("0" if plaintext[-1] != "0" else "1")
    assert await access.verify_key(tampered) is None

    await access.revoke_key(info.key_id)
    assert await access.verify_key(plaintext) is None
    assert (await access.list_keys("athlete-a"))[0].revoked
    with pytest.raises(NotFound):
        await access.revoke_key("000000000000")


async def test_expired_key_is_refused(access: AccessControl) -> None:
    soon = datetime.now(UTC) + timedelta(milliseconds=300)
    _, plaintext = await access.issue_key("athlete-a", ["runs:read"], expires_at=soon)
    assert await access.verify_key(plaintext) is not None
    with pytest.raises(ValidationFailed, match="in the past"):
        await access.issue_key("athlete-a", ["runs:read"], expires_at=datetime.now(UTC))
    while datetime.now(UTC) <= soon:  # expiry is a wall-clock condition
        pass
    assert await access.verify_key(plaintext) is None


async def test_grant_lifecycle(access: AccessControl) -> None:
    assert await access.grant_for("coach-c", "athlete-a") is None
    grant = await access.grant("athlete-a", "coach-c", GrantScope.READ, ATHLETE)
    assert grant.scope is GrantScope.READ
    assert await access.grant_for("coach-c", "athlete-a") is not None
    assert await access.grant_for("coach-c", "athlete-b") is None
    lists = await access.list_grants("coach-c")
    assert [g.athlete_id for g in lists.received] == ["athlete-a"] and lists.given == []

    await access.revoke("athlete-a", "coach-c", ATHLETE)
    assert await access.grant_for("coach-c", "athlete-a") is None
    with pytest.raises(NotFound):
        await access.revoke("athlete-a", "coach-c", ATHLETE)
    with pytest.raises(ValidationFailed):
        await access.grant("athlete-a", "athlete-a", GrantScope.READ, ATHLETE)


async def test_denials_are_recorded_as_events(access: AccessControl) -> None:
    await access.record_denial(
        DenialReason.RATE_LIMITED,
        "too many calls",
        principal="athlete-a",
        tool="log_run",
        replica="gw-1",
        client_id="claude",
    )
    await access.record_denial(DenialReason.UNAUTHORIZED, "bad signature", principal=None)
    denials = await access.denials("athlete-a")
    assert [(d.reason, d.tool, d.replica) for d in denials] == [
        (DenialReason.RATE_LIMITED, "log_run", "gw-1")
    ]
    assert (await access.denials("anonymous"))[0].reason is DenialReason.UNAUTHORIZED
    stored = await access._store.read_stream("denials:athlete-a")  # the log keeps it for audit
    assert [e.event_type for e in stored] == ["CallRejected"]
