"""The batch rebuild (in-memory write-behind fold, `rebuild.build`) gives exactly the read models
of the per-event path (the live projector's WATCH/MULTI catch-up) on a mixed log: runs, shoes,
profile updates, deletes, erasure, context, access and insights, interleaved across athletes.

Every read-model key is compared (the insights dirty and athletes sets included); only the
projectors' own checkpoints and sentinels are ignored. Variants: one flush at the end, a flush
every few events (delta writes), eviction of the cache after every flush (read-through), and a
build interrupted mid-way then resumed."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from maratron_cli.operator import all_projections
from maratron_contracts.access import (
    AccessGranted,
    AccessRevoked,
    ApiKeyIssued,
    ApiKeyRevoked,
    CallRejected,
    DenialReason,
    GrantScope,
)
from maratron_contracts.context import (
    ConversationContextUpdated,
    ExchangeRecorded,
    MemoryForgotten,
    MemoryKind,
    MemoryRemembered,
    PreferencesSet,
    SessionEnded,
    SessionExpired,
    SessionStarted,
    Visibility,
)
from maratron_contracts.envelope import Actor, EventMetadata, NewEvent
from maratron_contracts.messages import Event
from maratron_contracts.registry import load_all
from maratron_contracts.runs import (
    AthleteDeleted,
    AthleteRegistered,
    DefaultShoeSet,
    ProfileUpdated,
    RunDeleted,
    RunLogged,
    RunUpdated,
    ShoeAdded,
    ShoeRetired,
)
from maratron_eventstore import EventStore
from maratron_projections import Keys, Projector
from maratron_projections.compare import OPERATIONAL, compare
from maratron_projections.rebuild import REPLAY_NAME, build
from maratron_service.testing import drop_namespace
from maratron_testing.plugin import StackUrls
from redis.asyncio import Redis

NOW = dt.datetime(2026, 11, 20, 7, 30, tzinfo=dt.UTC)
ATHLETES = ("mix-0", "mix-1", "mix-2", "mix-3")
ERASED = "mix-1"
Stream = list[Event]


@dataclass
class Log:
    store: EventStore
    redis: Redis
    namespace: str


def _streams(athlete: str, rng: random.Random) -> dict[str, Stream]:
    """Every stream of one athlete, each in its own order."""
    a = athlete
    shoes = [f"{a}-s1", f"{a}-s2"]
    streams: dict[str, Stream] = {
        f"athlete:{a}": [
            AthleteRegistered(athlete_id=a, name=f"Name {a}", email=f"{a}@example.com",
                              timezone="Europe/Paris", unit="km", week_start="monday",
                              max_hr=190, resting_hr=50, registered_at=NOW),
            ProfileUpdated(athlete_id=a, name=f"Renamed {a}", max_hr=185, updated_at=NOW),
            ProfileUpdated(athlete_id=a, timezone="America/New_York", unit="mi",
                           updated_at=NOW),
        ],
        f"shoes:{a}": [
            ShoeAdded(shoe_id=shoes[0], name="Daily", max_distance_m=800_000,
                      initial_distance_m=12_000, added_at=NOW),
            DefaultShoeSet(shoe_id=shoes[0]),
            ShoeAdded(shoe_id=shoes[1], name="Racer", brand="B", max_distance_m=400_000,
                      initial_distance_m=0, added_at=NOW),
            ShoeRetired(shoe_id=shoes[1], retired_at=NOW),
            DefaultShoeSet(shoe_id=None),
            DefaultShoeSet(shoe_id=shoes[0]),
        ],
        f"prefs:{a}": [
            PreferencesSet(detail_level="brief", coaching_tone="calm", at=NOW),
            PreferencesSet(max_results=7, language="fr", at=NOW),
        ],
        f"memory:{a}": [
            MemoryRemembered(memory_id=f"{a}-m1", kind=MemoryKind.GOAL, text="sub-3 marathon",
                             agent="claude", visibility=Visibility.SHARED, at=NOW),
            MemoryRemembered(memory_id=f"{a}-m2", kind=MemoryKind.INJURY, text="left calf",
                             agent="claude", visibility=Visibility.PRIVATE, at=NOW),
            MemoryForgotten(memory_id=f"{a}-m2", agent="claude", at=NOW),
        ],
        f"grants:{a}": [
            AccessGranted(athlete_id=a, coach=f"coach-{a}", scope=GrantScope.READ),
            AccessGranted(athlete_id=a, coach="coach-shared", scope=GrantScope.READ_WRITE,
                          expires_at=NOW + dt.timedelta(days=30)),
            AccessRevoked(athlete_id=a, coach=f"coach-{a}"),
        ],
        f"apikey:{a}-k1": [
            ApiKeyIssued(key_id=f"{a}-k1", subject=a, scopes=["runs:read"],
                         secret_sha256="0" * 64, name="watch"),
            ApiKeyRevoked(key_id=f"{a}-k1"),
        ],
        f"apikey:{a}-k2": [
            ApiKeyIssued(key_id=f"{a}-k2", subject=a, scopes=["runs:read", "runs:write"],
                         roles=["admin"], secret_sha256="1" * 64),
        ],
        f"denials:{a}": [
            CallRejected(principal=a, tool="log_run", reason=DenialReason.RATE_LIMITED,
                         message="slow down")
            for _ in range(3)
        ],
    }  # fmt: skip
    for s in range(2):
        sid = f"{a}-session-{s}"
        events: Stream = [
            SessionStarted(session_id=sid, title="Weekly plan", agent="claude", started_at=NOW,
                           idle_timeout_seconds=1800),
            ConversationContextUpdated(session_id=sid, agent="claude", at=NOW, topic="plan",
                                       mentioned_goals=["sub-3"]),
        ]  # fmt: skip
        for x in range(rng.randint(1, 3)):
            events.append(
                ExchangeRecorded(session_id=sid, exchange_id=f"{sid}-x{x}", agent="claude",
                                 visibility=Visibility.SHARED, user_message=f"question {x}",
                                 ai_response=f"answer {x}", at=NOW + dt.timedelta(minutes=x))
            )  # fmt: skip
            if rng.random() < 0.5:
                events.append(
                    ConversationContextUpdated(session_id=sid, agent="claude", at=NOW,
                                               mood="tired")
                )  # fmt: skip
        events.append(
            SessionEnded(session_id=sid, agent="claude", at=NOW)
            if s == 0
            else SessionExpired(session_id=sid, last_activity_at=NOW, at=NOW)
        )
        streams[f"session:{sid}"] = events
    today = dt.date(2026, 11, 20)
    for r in range(6):
        run_id = f"{a}-r{r}"
        fields: dict[str, Any] = {
            "run_id": run_id, "date": today - dt.timedelta(days=rng.randint(0, 70)),
            "distance_m": rng.randint(3_000, 30_000), "duration_s": rng.randint(1_000, 9_000),
            "shoe_id": rng.choice([*shoes, None]), "elevation_gain_m": rng.choice([None, 40]),
            "name": f"Run {r}", "notes": rng.choice([None, "felt good"]),
            "workout_type": "easy",
        }  # fmt: skip
        events = [RunLogged(**fields, logged_at=NOW)]
        for _ in range(rng.randint(0, 3)):
            fields["distance_m"] += rng.randint(1, 900)
            fields["date"] = fields["date"] - dt.timedelta(days=rng.randint(0, 40))
            events.append(RunUpdated(**fields, changed=["distance_m", "date"], updated_at=NOW))
        if rng.random() < 0.3:
            events.append(RunDeleted(run_id=run_id, deleted_at=NOW))
        streams[f"run:{run_id}"] = events
    return streams


async def _append_interleaved(store: EventStore, rng: random.Random) -> None:
    """Append one event at a time, picking a random stream each time: positions interleave
    athletes and streams. The erased athlete is deleted half-way (then erased in the store)
    and still gets a run afterwards (its personal fields are stored as "[erased]")."""
    meta = EventMetadata(actor=Actor.system("test"))
    pending: list[tuple[str, str, Stream]] = []
    for athlete in ATHLETES:
        for stream_id, events in _streams(athlete, rng).items():
            pending.append((stream_id, athlete, list(events)))
    total = sum(len(events) for _, _, events in pending)
    appended = 0
    erased = False
    while pending:
        i = rng.randrange(len(pending))
        stream_id, athlete, events = pending[i]
        event = events.pop(0)
        if not events:
            pending.pop(i)
        await _append(store, stream_id, athlete, event, meta)
        appended += 1
        if not erased and appended >= total // 2:
            await _append(
                store, f"athlete:{ERASED}", ERASED,
                AthleteDeleted(athlete_id=ERASED, deleted_at=NOW), meta,
            )  # fmt: skip
            await store.erase_athlete(ERASED)
            await _append(
                store, f"run:{ERASED}-late", ERASED,
                RunLogged(run_id=f"{ERASED}-late", date=dt.date(2026, 11, 19),
                          distance_m=5_000, duration_s=1_500, name="after erasure",
                          logged_at=NOW), meta,
            )  # fmt: skip
            erased = True


async def _append(
    store: EventStore, stream_id: str, athlete: str, event: Event, meta: EventMetadata
) -> None:
    new = NewEvent(
        event_type=event.event_type,
        schema_version=event.schema_version,
        data=event.model_dump(mode="json"),
    )
    await store.append(stream_id, athlete, [new], expected_version=None, metadata=meta)


@pytest.fixture
async def log(maratron_stack: StackUrls, namespace: str) -> AsyncIterator[Log]:
    store = await EventStore.connect(
        maratron_stack.database_url, namespace=namespace, registry=load_all()
    )
    await store.migrate()
    redis = Redis.from_url(maratron_stack.redis_url)
    try:
        await _append_interleaved(store, random.Random(11))
        yield Log(store, redis, namespace)
    finally:
        await redis.aclose()
        await store.close()
        await drop_namespace(maratron_stack, namespace)


async def _per_event(log: Log) -> Keys:
    """The reference: the live projector's per-event WATCH/MULTI catch-up from position 0."""
    keys = Keys(log.namespace, "per-event")
    await Projector(log.redis, log.store, all_projections(), keys, name=REPLAY_NAME).catch_up()
    return keys


async def _families(redis: Redis, keys: Keys) -> set[str]:
    found = set()
    async for raw in redis.scan_iter(match=f"{keys.prefix}*", count=1000):
        relative = raw.decode()[len(keys.prefix) :].split(":")
        found.add(relative[0] if relative[0] != "applied" else f"applied:{relative[1]}")
    return found


class Interrupted(Exception):
    pass


@pytest.mark.parametrize(
    ("variant", "options"),
    [
        ("one-flush", {}),
        ("flush-every-few-events", {"chunk": 7, "page": 3}),
        ("evict-after-every-flush", {"chunk": 9, "max_keys": 0}),
    ],
)
async def test_batch_build_equals_per_event_projection(
    log: Log, variant: str, options: dict[str, Any]
) -> None:
    reference = await _per_event(log)
    families = await _families(log.redis, reference)
    # the log really covers every read model (so an empty comparison proves something)
    assert {"athlete", "runs", "shoes", "insights", "context", "access"} <= families
    assert {f"applied:{p.name}" for p in all_projections()} <= families
    assert await log.redis.sismember(reference("insights", "dirty"), ERASED)

    keys = Keys(log.namespace, variant)
    position, _ = await build(log.store, log.redis, all_projections(), keys, **options)
    assert position == await log.store.head()
    assert await compare(log.redis, reference, keys, ignore=OPERATIONAL) == []
    assert await log.redis.get(keys.checkpoint(REPLAY_NAME)) == str(position).encode()


async def test_interrupted_batch_build_resumes_to_the_same_read_models(log: Log) -> None:
    reference = await _per_event(log)
    keys = Keys(log.namespace, "resumed")
    head = await log.store.head()
    calls: list[int] = []

    def stop_half_way(done: int, total: int, _: float) -> None:
        calls.append(done)
        if done >= total // 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        await build(log.store, log.redis, all_projections(), keys, chunk=13, progress=stop_half_way)
    stopped = int(await log.redis.get(keys.checkpoint(REPLAY_NAME)) or 0)
    assert 0 < stopped < head and stopped == calls[-1]
    assert await compare(log.redis, reference, keys, ignore=OPERATIONAL) != []  # half-built

    position, _ = await build(log.store, log.redis, all_projections(), keys, chunk=17)
    assert position == head
    assert await compare(log.redis, reference, keys, ignore=OPERATIONAL) == []
