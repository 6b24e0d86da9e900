"""Projections of the runs service: events -> the Redis read models of `readmodel`.

The runner (maratron_projections.Projector) applies each event once per projection, in stream
order, in one MULTI/EXEC with its applied marker. A run's contributions to its day and month
aggregates and to its shoe's distance are integer HINCRBYs (exact and commutative: concurrent
runs of one day or one shoe never contend); an update or delete first subtracts the run's
previous contribution, read from the run's stored JSON (only its own stream changes it).

`projects_decided_events = True` (RunsProjection, ShoesProjection): the command loop may project
a command's events from what it appended instead of reading them back (maratron_service.commands):
these projections never read `recorded_at` or `hash`, and a run's personal fields are scrubbed
here whenever the athlete's erasure tombstone is set, whatever the event carried.
"""

from __future__ import annotations

from typing import Any

from maratron_contracts.envelope import RecordedEvent
from maratron_contracts.messages import Event
from maratron_contracts.registry import REGISTRY
from maratron_contracts.runs import (
    AthleteDeleted,
    AthleteRegistered,
    DefaultShoeSet,
    Profile,
    ProfileUpdated,
    Run,
    RunDeleted,
    RunLogged,
    RunUpdated,
    Shoe,
    ShoeAdded,
    ShoeRetired,
)
from maratron_projections import Keys
from redis.asyncio.client import Pipeline

from maratron_runs import views
from maratron_runs.readmodel import RunsKeys, bucket_field, buckets, index_member, text

ERASED = "[erased]"
RUN_PERSONAL = ("name", "notes")


def _decode(event: RecordedEvent) -> Event:
    return REGISTRY.decode(event.event_type, event.schema_version, event.data)


def _scrubbed(run: Run) -> Run:
    """The run with its personal fields replaced as erasure leaves them in the store."""
    erased = {f: ERASED for f in RUN_PERSONAL if getattr(run, f) is not None}
    return run.model_copy(update=erased) if erased else run


def _begin(pipe: Pipeline) -> None:
    if not pipe.explicit_transaction:
        pipe.multi()  # type: ignore[no-untyped-call]


class ProfileProjection:
    """athlete:{a}:profile; on erasure also scrubs the personal fields of the athlete's runs."""

    name = "runs.profile"
    event_types = frozenset({"AthleteRegistered", "ProfileUpdated", "AthleteDeleted"})

    async def apply(self, event: RecordedEvent, pipe: Pipeline, keys: Keys) -> None:
        k = RunsKeys(keys, event.athlete_id)
        ev = _decode(event)
        if isinstance(ev, AthleteRegistered):
            _begin(pipe)
            pipe.set(k.profile, views.profile_registered(event.athlete_id, ev).model_dump_json())
        elif isinstance(ev, ProfileUpdated):
            raw = await pipe.get(k.profile)
            if raw is None:  # erased meanwhile (or never registered): nothing to update
                return
            profile = views.profile_updated(Profile.model_validate_json(raw), ev)
            _begin(pipe)
            pipe.set(k.profile, profile.model_dump_json())
        elif isinstance(ev, AthleteDeleted):
            await pipe.watch(k.runs)  # a run projection writing meanwhile makes us retry
            runs: dict[Any, Any] = await pipe.hgetall(k.runs)  # type: ignore[misc]
            scrubbed: dict[Any, Any] = {}
            for run_id, blob in runs.items():
                run = Run.model_validate_json(blob)
                if _scrubbed(run) != run:
                    scrubbed[text(run_id)] = _scrubbed(run).model_dump_json()
            _begin(pipe)
            pipe.delete(k.profile)
            pipe.set(k.erased, ev.deleted_at.isoformat())
            if scrubbed:
                pipe.hset(k.runs, mapping=scrubbed)


class RunsProjection:
    """Run JSON, the newest-first index, per-day aggregates and per-shoe run distance."""

    name = "runs.runs"
    event_types = frozenset({"RunLogged", "RunUpdated", "RunDeleted"})
    projects_decided_events = True

    async def apply(self, event: RecordedEvent, pipe: Pipeline, keys: Keys) -> None:
        k = RunsKeys(keys, event.athlete_id)
        ev = _decode(event)
        old: Run | None = None
        if isinstance(ev, RunUpdated | RunDeleted):
            raw = await pipe.hget(k.runs, ev.run_id)  # type: ignore[misc]
            old = None if raw is None else Run.model_validate_json(raw)
        new: Run | None = None
        if isinstance(ev, RunLogged):
            new = views.run_logged(event.athlete_id, ev)
        elif isinstance(ev, RunUpdated) and old is not None:
            new = views.run_updated(old, ev)
        if new is not None and _scrubbed(new) != new:
            # An event read before its athlete's erasure must not bring personal data back
            # after the scrub: watch the tombstone (the scrub sets it in its MULTI). A run
            # without personal fields has nothing to scrub: no need for those two round trips.
            await pipe.watch(k.erased)
            if await pipe.get(k.erased) is not None:
                new = _scrubbed(new)
        _begin(pipe)
        if old is not None:
            self._contribute(pipe, k, old, -1)
            pipe.zrem(k.index, index_member(old))
            pipe.hdel(k.runs, old.run_id)
        if new is not None:
            self._contribute(pipe, k, new, +1)
            pipe.zadd(k.index, {index_member(new): 0})
            pipe.hset(k.runs, new.run_id, new.model_dump_json())

    @staticmethod
    def _contribute(pipe: Pipeline, k: RunsKeys, run: Run, sign: int) -> None:
        amounts = (
            ("c", 1),
            ("d", run.distance_m),
            ("t", run.duration_s),
            ("e", run.elevation_gain_m or 0),
        )
        for bucket in buckets(run.date):
            for field, amount in amounts:
                pipe.hincrby(k.days, bucket_field(bucket, field), sign * amount)
            if sign > 0:
                pipe.zadd(k.longest(bucket), {run.run_id: run.distance_m})
            else:
                pipe.zrem(k.longest(bucket), run.run_id)
        if run.shoe_id is not None:
            pipe.hincrby(k.shoe_distance, run.shoe_id, sign * run.distance_m)
            pipe.hincrby(k.shoe_runs, run.shoe_id, sign)


class ShoesProjection:
    """shoes:{a}:data (the shoes themselves) and shoes:{a}:default."""

    name = "runs.shoes"
    event_types = frozenset({"ShoeAdded", "ShoeRetired", "DefaultShoeSet"})
    projects_decided_events = True

    async def apply(self, event: RecordedEvent, pipe: Pipeline, keys: Keys) -> None:
        k = RunsKeys(keys, event.athlete_id)
        ev = _decode(event)
        if isinstance(ev, ShoeAdded):
            _begin(pipe)
            pipe.hset(k.shoes, ev.shoe_id, views.shoe_added(ev).model_dump_json())
        elif isinstance(ev, ShoeRetired):
            raw = await pipe.hget(k.shoes, ev.shoe_id)  # type: ignore[misc]
            if raw is None:
                return
            shoe = views.shoe_retired(Shoe.model_validate_json(raw), ev.retired_at)
            _begin(pipe)
            pipe.hset(k.shoes, ev.shoe_id, shoe.model_dump_json())
        elif isinstance(ev, DefaultShoeSet):
            _begin(pipe)
            if ev.shoe_id is None:
                pipe.delete(k.default_shoe)
            else:
                pipe.set(k.default_shoe, ev.shoe_id)


def projections() -> list[ProfileProjection | RunsProjection | ShoesProjection]:
    return [ProfileProjection(), RunsProjection(), ShoesProjection()]
