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
_WRITTEN_MAX = 1024
"""Run JSON blobs `RunsProjection` remembers having written (an edit usually follows soon)."""


def _decode(event: RecordedEvent) -> Event:
    return REGISTRY.decode(event.event_type, event.schema_version, event.data)


def _scrubbed(run: Run) -> Run:
    """The run with its personal fields replaced as erasure leaves them in the store."""
    erased = {f: ERASED for f in RUN_PERSONAL if getattr(run, f) is not None}
    return run.model_copy(update=erased) if erased else run


def _has_personal(run: Run) -> bool:
    """`_scrubbed(run) != run`, without building the copy (checked for every run event)."""
    return any(getattr(run, f) not in (None, ERASED) for f in RUN_PERSONAL)


def _begin(pipe: Pipeline) -> None:
    if not pipe.explicit_transaction:
        pipe.multi()  # type: ignore[no-untyped-call]


class ProfileProjection:
    """athlete:{a}:profile; on erasure also scrubs the personal fields of the athlete's runs."""

    name = "runs.profile"
    event_types = frozenset({"AthleteRegistered", "ProfileUpdated", "AthleteDeleted"})

    async def apply(self, event: RecordedEvent, pipe: Pipeline, keys: Keys) -> None:
        k = RunsKeys.of(keys, event.athlete_id)
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

    def __init__(self) -> None:
        # Run JSON this projection wrote -> the Run and its index member (see `_previous`).
        self._written: dict[str, tuple[Run, str]] = {}

    async def apply(self, event: RecordedEvent, pipe: Pipeline, keys: Keys) -> None:
        k = RunsKeys.of(keys, event.athlete_id)
        ev = _decode(event)
        old: Run | None = None
        old_member = ""
        if isinstance(ev, RunUpdated | RunDeleted):
            raw = await pipe.hget(k.runs, ev.run_id)  # type: ignore[misc]
            if raw is not None:
                old, old_member = self._previous(text(raw))
        new: Run | None = None
        if isinstance(ev, RunLogged):
            new = views.run_logged(event.athlete_id, ev)
        elif isinstance(ev, RunUpdated) and old is not None:
            new = views.run_updated(old, ev)
        if new is not None and _has_personal(new):
            # An event read before its athlete's erasure must not bring personal data back
            # after the scrub: watch the tombstone (the scrub sets it in its MULTI). A run
            # without personal fields has nothing to scrub: no need for those two round trips.
            await pipe.watch(k.erased)
            if await pipe.get(k.erased) is not None:
                new = _scrubbed(new)
        _begin(pipe)
        self._replace(pipe, k, old, new)
        new_member = None if new is None else index_member(new)
        if old is not None:
            if old_member != new_member:
                pipe.zrem(k.index, old_member)
            if new is None or new.run_id != old.run_id:
                pipe.hdel(k.runs, old.run_id)
        if new is not None and new_member is not None:
            blob = new.model_dump_json()
            pipe.zadd(k.index, {new_member: 0})
            pipe.hset(k.runs, new.run_id, blob)
            self._remember(blob, new, new_member)

    def _previous(self, blob: str) -> tuple[Run, str]:
        """The stored run and its index member, without parsing JSON this projection wrote.

        Keyed by the exact JSON: a blob anyone else changed (the erasure scrub) or that an
        earlier process wrote is simply not found and is parsed. The Run is shared with the
        cache, which is safe because nothing here mutates a Run (updates build a new one)."""
        hit = self._written.pop(blob, None)
        if hit is not None:
            return hit
        run = Run.model_validate_json(blob)
        return run, index_member(run)

    def _remember(self, blob: str, run: Run, member: str) -> None:
        written = self._written
        written[blob] = (run, member)
        if len(written) > _WRITTEN_MAX:  # oldest first: dicts keep insertion order
            del written[next(iter(written))]

    @staticmethod
    def _sums(k: RunsKeys, run: Run) -> dict[tuple[str, str], int]:
        """(key, field) -> what `run` adds to its day and month aggregates and its shoe."""
        day, month = buckets(run.date)
        d, t, e = run.distance_m, run.duration_s, run.elevation_gain_m or 0
        days = k.days
        sums = {
            (days, bucket_field(day, "c")): 1,
            (days, bucket_field(day, "d")): d,
            (days, bucket_field(day, "t")): t,
            (days, bucket_field(day, "e")): e,
            (days, bucket_field(month, "c")): 1,
            (days, bucket_field(month, "d")): d,
            (days, bucket_field(month, "t")): t,
            (days, bucket_field(month, "e")): e,
        }
        if run.shoe_id is not None:
            sums[k.shoe_distance, run.shoe_id] = d
            sums[k.shoe_runs, run.shoe_id] = 1
        return sums

    @classmethod
    def _replace(cls, pipe: Pipeline, k: RunsKeys, old: Run | None, new: Run | None) -> None:
        """Swap `old`'s contribution to its day/month and shoe sums for `new`'s.

        Both are netted per (key, field) first, so an edit issues one HINCRBY per field it
        changes instead of a subtraction and an addition per field (an edit of the duration:
        2 instead of 20). Equivalent in Redis: the increments are commutative; a net zero is
        skipped only for a field `old` contributed to (its own earlier +1 created the field,
        so HINCRBY 0 would change nothing), never for a field only `new` touches (HINCRBY 0
        creates it with "0"). Likewise a `longest` ZREM is skipped where `new` re-adds the
        member to the same bucket (ZADD then sets its score)."""
        before = {} if old is None else cls._sums(k, old)
        after = {} if new is None else cls._sums(k, new)
        for (key, field), amount in after.items():
            previous = before.get((key, field))
            if previous is None:
                pipe.hincrby(key, field, amount)
            elif amount != previous:
                pipe.hincrby(key, field, amount - previous)
        for (key, field), amount in before.items():
            if amount and (key, field) not in after:
                pipe.hincrby(key, field, -amount)
        new_buckets = () if new is None else buckets(new.date)
        if old is not None:
            for bucket in buckets(old.date):
                if bucket not in new_buckets or new is None or new.run_id != old.run_id:
                    pipe.zrem(k.longest(bucket), old.run_id)
        if new is not None:
            for bucket in new_buckets:
                pipe.zadd(k.longest(bucket), {new.run_id: new.distance_m})


class ShoesProjection:
    """shoes:{a}:data (the shoes themselves) and shoes:{a}:default."""

    name = "runs.shoes"
    event_types = frozenset({"ShoeAdded", "ShoeRetired", "DefaultShoeSet"})
    projects_decided_events = True

    async def apply(self, event: RecordedEvent, pipe: Pipeline, keys: Keys) -> None:
        k = RunsKeys.of(keys, event.athlete_id)
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
