"""The insights service against the real stack: events appended to Postgres, relayed to
JetStream, consumed by the service, insights read back from Redis."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from uuid import uuid4

import pytest
from maratron_contracts.envelope import EventMetadata, NewEvent, RecordedEvent
from maratron_contracts.insights import InsightsLatest, MetricStatus
from maratron_contracts.registry import load_all
from maratron_contracts.runs import (
    AthleteRegistered,
    ProfileUpdated,
    RunDeleted,
    RunLogged,
    RunUpdated,
    ShoeAdded,
    ShoeRetired,
)
from maratron_contracts.subjects import event_subject
from maratron_eventstore import EventStore
from maratron_insights.app import InsightsApp, build_app
from maratron_insights.queries import InsightsQueries
from maratron_insights.readmodel import InsightsKeys, parked_key
from maratron_insights.settings import InsightsSettings
from maratron_projections import Keys, ensure_events_stream
from maratron_service.testing import drop_namespace, running_app, settings_for
from maratron_testing.plugin import StackUrls
from prometheus_client import REGISTRY

pytestmark = pytest.mark.integration

NOW = dt.datetime.now(dt.UTC)
TODAY = NOW.date()
META = EventMetadata()


async def eventually(check: Callable[[], Awaitable[bool]], what: str, within_s: float = 60) -> None:
    """Poll `check` until it holds (a deadline, not a sleep: fast when the system is fast)."""
    deadline = time.monotonic() + within_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def store(maratron_stack: StackUrls, namespace: str) -> AsyncIterator[EventStore]:
    s = await EventStore.connect(
        maratron_stack.database_url, namespace=namespace, registry=load_all()
    )
    await s.migrate()
    yield s
    await s.close()
    await drop_namespace(maratron_stack, namespace)


@contextlib.asynccontextmanager
async def insights_app(s: InsightsSettings) -> AsyncIterator[InsightsApp]:
    async with running_app(build_app, s) as app:
        assert isinstance(app, InsightsApp)
        yield app


def settings(stack: StackUrls, namespace: str, **overrides: Any) -> InsightsSettings:
    values: dict[str, Any] = {"sweep_interval_s": 0.5, "consumer_backoff_s": (0.05, 0.1)}
    values.update(overrides)
    return settings_for(stack, InsightsSettings, namespace, **values)


def run_data(run_id: str, day: dt.date, km: float, minutes: float, **extra: Any) -> dict[str, Any]:
    return RunLogged(
        run_id=run_id,
        date=day,
        distance_m=int(km * 1000),
        duration_s=int(minutes * 60),
        logged_at=NOW,
        **extra,
    ).model_dump(mode="json")


class World:
    """Appends run / profile / shoe events for one athlete, as the runs service would."""

    def __init__(self, store: EventStore, athlete: str) -> None:
        self.store = store
        self.athlete = athlete
        self.events = 0

    async def append(self, stream: str, event_type: str, data: dict[str, Any]) -> None:
        await self.store.append(
            stream,
            self.athlete,
            [NewEvent(event_type=event_type, data=data)],
            expected_version=None,
            metadata=META,
        )
        self.events += 1

    async def register(self, **fields: Any) -> None:
        data = AthleteRegistered(
            athlete_id=self.athlete,
            name="Ann",
            email="ann@example.com",
            timezone=fields.pop("timezone", "UTC"),
            unit="km",
            week_start=fields.pop("week_start", "monday"),
            registered_at=NOW,
            **fields,
        ).model_dump(mode="json")
        await self.append(f"athlete:{self.athlete}", "AthleteRegistered", data)

    async def log(self, run_id: str, day: dt.date, km: float, minutes: float, **extra: Any) -> None:
        await self.append(f"run:{run_id}", "RunLogged", run_data(run_id, day, km, minutes, **extra))

    async def history(self, days: int, *, prefix: str = "r") -> int:
        """Near-daily runs over `days` days ending yesterday (rest when i % 7 == 3), a weekly
        long run and a monthly race; returns the number of runs. Appended 8 at a time (every
        run is its own stream), as concurrent log_run commands would."""
        pending = []
        for i in range(days):
            day = TODAY - dt.timedelta(days=days - i)
            if i % 7 == 3:
                continue  # a rest day a week
            km, minutes, kind = 8.0, 44.0, "easy"
            if i % 7 == 6:
                km, minutes, kind = 18.0, 102.0, "long"
            if i % 30 == 10:
                km, minutes, kind = 5.0, 21.5, "race"
            pending.append(self.log(f"{prefix}{i}", day, km, minutes, workout_type=kind,
                                    start_time="07:15:00"))  # fmt: skip
        for start in range(0, len(pending), 8):
            await asyncio.gather(*pending[start : start + 8])
        return len(pending)


async def revision_is(app: InsightsApp, athlete: str, revision: int) -> bool:
    raw = await app.redis.hget(InsightsKeys(app.insights_keys, athlete).latest, "rev")  # type: ignore[misc]
    return raw is not None and int(raw) == revision


def queries(app: InsightsApp) -> InsightsQueries:
    return InsightsQueries(app.redis, app.insights_keys)


def comparable(doc: InsightsLatest) -> dict[str, Any]:
    return doc.model_dump(mode="json")


async def test_every_event_delivered_twice_changes_nothing(
    maratron_stack: StackUrls, namespace: str, store: EventStore
) -> None:
    athlete = f"a-{uuid4().hex[:8]}"
    world = World(store, athlete)
    async with insights_app(settings(maratron_stack, namespace)) as app:
        await world.register(sex="female", resting_hr=50, max_hr=190)
        await world.append(
            f"shoes:{athlete}",
            "ShoeAdded",
            ShoeAdded(
                shoe_id="s1",
                name="Pegasus",
                max_distance_m=800_000,
                initial_distance_m=700_000,
                added_at=NOW,
            ).model_dump(mode="json"),
        )
        await world.history(60)
        await world.log("hr", TODAY, 10, 50, avg_hr=150, shoe_id="s1")
        await eventually(lambda: revision_is(app, athlete, world.events), "all events applied")
        before = await queries(app).latest(athlete)

        async def acked(n: int) -> bool:
            return app.consumer.processed >= n

        await eventually(lambda: acked(world.events), "first delivery acked")
        processed = app.consumer.processed

        # Deliver every event a second time through JetStream (new message ids, so JetStream's
        # duplicate window does not drop them: a real second delivery to the consumer).
        events = await store.read_all(0, limit=10_000)
        js = app.nats.jetstream()
        for e in events:
            await js.publish(
                event_subject(namespace, e.category, e.event_type),
                e.model_dump_json().encode(),
                headers={"Nats-Msg-Id": f"{e.event_id}-again"},
            )

        await eventually(lambda: acked(processed + len(events)), "second delivery acked")
        after = await queries(app).latest(athlete)
    assert comparable(after) == comparable(before)
    assert before.revision == world.events
    tl = before.training_load
    assert tl.load_methods.get("trimp_banister") == 1  # HR + sex + resting/max HR known
    assert tl.acwr_rolling.status is MetricStatus.OK
    assert {p.key for p in before.patterns.insights} >= {"shoe_wear", "time_of_day"}
    assert before.predictions.status is MetricStatus.OK
    assert before.predictions.efforts[0].kind == "race"


async def test_update_and_delete_change_the_insights(
    maratron_stack: StackUrls, namespace: str, store: EventStore
) -> None:
    athlete = f"a-{uuid4().hex[:8]}"
    world = World(store, athlete)
    async with insights_app(settings(maratron_stack, namespace)) as app:
        await world.register()
        runs = await world.history(40)
        await eventually(lambda: revision_is(app, athlete, world.events), "history applied")
        q = queries(app)
        before = await q.training_load(athlete)
        week = before.weekly_trend[-2]  # last week: complete, with runs
        in_week = [
            i
            for i in range(40)
            if i % 7 != 3 and 0 <= (TODAY - dt.timedelta(days=40 - i) - week.week_start).days < 7
        ]
        run_id = f"r{in_week[0]}"
        old = (await store.read_stream(f"run:{run_id}"))[-1].data
        # update: +2 km on that run
        updated = RunUpdated.model_validate(
            {
                **{k: v for k, v in old.items() if k != "logged_at"},
                "distance_m": old["distance_m"] + 2000,
                "changed": ["distance_m"],
                "updated_at": NOW,
            }
        ).model_dump(mode="json")
        await world.append(f"run:{run_id}", "RunUpdated", updated)
        await eventually(lambda: revision_is(app, athlete, world.events), "update applied")
        after_update = await q.training_load(athlete)
        assert after_update.weekly_trend[-2].distance_m == week.distance_m + 2000
        # delete it
        await world.append(
            f"run:{run_id}",
            "RunDeleted",
            RunDeleted(run_id=run_id, deleted_at=NOW).model_dump(mode="json"),
        )
        await eventually(lambda: revision_is(app, athlete, world.events), "delete applied")
        after_delete = await q.training_load(athlete)
        assert after_delete.weekly_trend[-2].distance_m == week.distance_m - old["distance_m"]
        assert after_delete.weekly_trend[-2].runs == week.runs - 1
        latest = await q.latest(athlete)
        assert latest.runs == runs - 1


async def test_started_after_500_runs_catches_up_to_the_same_answers(
    maratron_stack: StackUrls, namespace: str, store: EventStore
) -> None:
    athlete = f"a-{uuid4().hex[:8]}"
    world = World(store, athlete)
    async with insights_app(settings(maratron_stack, namespace)) as along:
        await world.register(week_start="sunday", timezone="Europe/Paris")
        runs = await world.history(584)
        assert runs == 501
        await eventually(lambda: revision_is(along, athlete, world.events), "all along applied")
        # A second deployment, in its own key space, started now: JetStream only (no store
        # catch-up), from the beginning of the stream.
        late_settings = settings(
            maratron_stack,
            namespace,
            read_model_version="late",
            catch_up_from_store=False,
            relay_enabled=False,
        )
        async with insights_app(late_settings) as late:
            await eventually(lambda: revision_is(late, athlete, world.events), "late caught up")
            a = await queries(along).latest(athlete)
            b = await queries(late).latest(athlete)
    assert comparable(a) == comparable(b)
    assert a.runs == runs
    assert a.training_load.week_start == "sunday"


async def test_store_catch_up_without_jetstream_history(
    maratron_stack: StackUrls, namespace: str, store: EventStore
) -> None:
    """Events older than the JetStream stream's retention still reach a new deployment."""
    athlete = f"a-{uuid4().hex[:8]}"
    world = World(store, athlete)
    await world.register()
    runs = await world.history(30)
    # No relay has run yet: nothing is in JetStream; only the store catch-up can find them.
    s = settings(maratron_stack, namespace, relay_enabled=False)
    async with insights_app(s) as app:
        await eventually(lambda: revision_is(app, athlete, world.events), "caught up from store")
        assert (await queries(app).latest(athlete)).runs == runs


async def test_failing_and_undecodable_events_are_parked(
    maratron_stack: StackUrls, namespace: str, store: EventStore
) -> None:
    s = settings(maratron_stack, namespace, consumer_max_deliver=2)
    counters = ("deliveries", "redeliveries", "parked")

    def consumer_counts() -> list[float]:
        labels = {"consumer": s.durable}
        return [
            REGISTRY.get_sample_value(f"maratron_consumer_{c}_total", labels) or 0.0
            for c in counters
        ]

    before = consumer_counts()
    async with insights_app(s) as app:
        await ensure_events_stream(app.nats, namespace)  # the app creates it in the background
        js = app.nats.jetstream()
        await js.publish(
            event_subject(namespace, "run", "RunLogged"),
            b"not json",
            headers={"Nats-Msg-Id": uuid4().hex},
        )
        broken = RecordedEvent(
            global_position=10**9,
            event_id=uuid4(),
            stream_id="run:broken",
            stream_version=1,
            athlete_id="a-broken",
            event_type="RunLogged",
            schema_version=1,
            data={"run_id": "broken", "date": "not-a-date", "distance_m": 1, "duration_s": 1},
            metadata=META,
            recorded_at=NOW,
        )
        await js.publish(
            event_subject(namespace, "run", "RunLogged"),
            broken.model_dump_json().encode(),
            headers={"Nats-Msg-Id": uuid4().hex},
        )
        key = parked_key(Keys(namespace))

        async def two_parked() -> bool:
            return await app.redis.llen(key) == 2  # type: ignore[no-any-return,misc]

        await eventually(two_parked, "both messages parked")

        async def nothing_pending() -> bool:
            labels = {"consumer": s.durable}
            return REGISTRY.get_sample_value("maratron_consumer_pending_messages", labels) == 0

        await eventually(nothing_pending, "the consumer's pending gauge is 0")
        parked = [json.loads(r) for r in await app.redis.lrange(key, 0, -1)]  # type: ignore[misc]
        # the broken event changed nothing
        assert not await app.redis.exists(InsightsKeys(Keys(namespace), "a-broken").runs)
    undecodable = [p for p in parked if p["reason"].startswith("undecodable")]
    failed = [p for p in parked if p["reason"].startswith("ValueError")]
    assert len(undecodable) == 1 and undecodable[0]["deliveries"] == 1  # no retry: cannot help
    assert len(failed) == 1 and failed[0]["deliveries"] == 2  # retried once, then parked
    assert "not-a-date" in failed[0]["data"]
    # metrics: 3 deliveries (1 + 2), of which 1 redelivery, and 2 messages parked
    assert [a - b for a, b in zip(consumer_counts(), before, strict=True)] == [3, 1, 2]


async def test_stale_document_is_recomputed_for_the_new_local_day(
    maratron_stack: StackUrls, namespace: str, store: EventStore
) -> None:
    athlete = f"a-{uuid4().hex[:8]}"
    world = World(store, athlete)
    async with insights_app(settings(maratron_stack, namespace)) as app:
        await world.register()
        await world.history(10)
        await eventually(lambda: revision_is(app, athlete, world.events), "applied")
        later = NOW + dt.timedelta(days=20)
        q = InsightsQueries(app.redis, app.insights_keys, clock=lambda: later)
        mood = await q.motivational_context(athlete)
        assert mood.at == later.date()
        assert mood.tone == "re_engaging"  # 20 days without a run
        stored = await app.redis.hget(InsightsKeys(app.insights_keys, athlete).latest, "for")  # type: ignore[misc]
        assert stored == later.date().isoformat().encode()


async def test_documents_of_a_past_day_are_redone_by_the_service(
    maratron_stack: StackUrls, namespace: str, store: EventStore
) -> None:
    athlete = f"a-{uuid4().hex[:8]}"
    world = World(store, athlete)
    s = settings(maratron_stack, namespace, rollover_interval_s=0.2)
    async with insights_app(s) as app:
        await world.register()
        await world.history(10)
        await eventually(lambda: revision_is(app, athlete, world.events), "applied")
        latest = InsightsKeys(app.insights_keys, athlete).latest
        await app.redis.hset(latest, "for", "2000-01-01")  # type: ignore[misc]

        async def redone() -> bool:
            day = await app.redis.hget(latest, "for")  # type: ignore[misc]
            return bool(day == TODAY.isoformat().encode())

        await eventually(redone, "the service to redo the document for today")


async def test_profile_and_shoe_changes_update_the_insights(
    maratron_stack: StackUrls, namespace: str, store: EventStore
) -> None:
    athlete = f"a-{uuid4().hex[:8]}"
    world = World(store, athlete)
    async with insights_app(settings(maratron_stack, namespace)) as app:
        await world.register(sex="male")  # no heart rates yet: no TRIMP possible
        await world.append(f"shoes:{athlete}", "ShoeAdded", ShoeAdded(
            shoe_id="s1", name="Worn", max_distance_m=100_000, initial_distance_m=95_000,
            added_at=NOW).model_dump(mode="json"))  # fmt: skip
        await world.log("h1", TODAY - dt.timedelta(days=1), 10, 50, avg_hr=150, shoe_id="s1")
        await eventually(lambda: revision_is(app, athlete, world.events), "applied")
        before = await queries(app).latest(athlete)
        assert before.training_load.load_methods == {"duration_minutes": 1}
        assert "shoe_wear" in {p.key for p in before.patterns.insights}

        changed = ProfileUpdated(athlete_id=athlete, resting_hr=50, max_hr=190, updated_at=NOW)
        await world.append(f"athlete:{athlete}", "ProfileUpdated",
                           changed.model_dump(mode="json", exclude_none=True))  # fmt: skip
        retired = ShoeRetired(shoe_id="s1", retired_at=NOW).model_dump(mode="json")
        await world.append(f"shoes:{athlete}", "ShoeRetired", retired)
        await eventually(lambda: revision_is(app, athlete, world.events), "changes applied")
        after = await queries(app).latest(athlete)
    # the earlier run is rescored with Banister TRIMP now that the heart rates are known
    assert after.training_load.load_methods == {"trimp_banister": 1}
    # 50 min, HRr = (150 - 50) / (190 - 50): 50 * 0.7142857 * 0.64 * e^(1.92 * 0.7142857)
    trimp = 50 * (100 / 140) * 0.64 * math.exp(1.92 * 100 / 140)
    assert sum(w.load for w in after.training_load.weekly_trend) == pytest.approx(trimp)
    assert after.training_load.timezone == "UTC"  # fields left out of the update are kept
    assert "shoe_wear" not in {p.key for p in after.patterns.insights}
