"""One athlete's insights state in Redis: a consistent snapshot, the derived document and its
guarded write.

The document is a pure function of (state, local date), so recomputing it any number of times,
on any replica, gives the same result. A write only replaces an older one: the stored revision
(events applied) and date must not be newer than the ones being written, so a slow replica
never overwrites a fresher document. Writing the document at the state's current revision also
clears the athlete's dirty flag, in the same script.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field

from maratron_contracts.insights import InsightsLatest
from maratron_contracts.units import local_today
from maratron_projections import Keys
from redis.asyncio import Redis

from maratron_insights.domain import (
    PATTERN_WINDOW_DAYS,
    AthleteSettings,
    ShoeInfo,
    StoredRun,
    compute_latest,
    decode_run,
)
from maratron_insights.readmodel import InsightsKeys, athletes_key, dirty_key

# KEYS: latest, rev, dirty. ARGV: training_load, patterns, predictions, motivational, rev, for,
# runs, athlete, tz. -> 1 when written.
_WRITE = """
local cur_rev = tonumber(redis.call('HGET', KEYS[1], 'rev') or '-1')
local cur_for = redis.call('HGET', KEYS[1], 'for') or ''
local rev = tonumber(ARGV[5])
local written = 0
if rev > cur_rev or (rev == cur_rev and ARGV[6] >= cur_for) then
  redis.call('HSET', KEYS[1], 'training_load', ARGV[1], 'patterns', ARGV[2],
             'predictions', ARGV[3], 'motivational', ARGV[4], 'rev', ARGV[5], 'for', ARGV[6],
             'runs', ARGV[7], 'tz', ARGV[9])
  written = 1
end
if tonumber(redis.call('GET', KEYS[2]) or '0') == rev then
  redis.call('SREM', KEYS[3], ARGV[8])
end
return written
"""

DOC_FIELDS = ("training_load", "patterns", "predictions", "motivational")


@dataclass(frozen=True)
class Snapshot:
    athlete_id: str
    runs: list[StoredRun]
    shoes: dict[str, ShoeInfo]
    settings: AthleteSettings
    revision: int
    has_profile: bool = field(default=False)

    @property
    def empty(self) -> bool:
        return self.revision == 0


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class InsightsState:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._write = redis.register_script(_WRITE)

    async def snapshot(self, athlete_id: str) -> Snapshot:
        """Runs, shoes, profile and revision read atomically (one MULTI)."""
        k = InsightsKeys(self.keys, athlete_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(k.runs)
            pipe.hgetall(k.shoes)
            pipe.get(k.profile)
            pipe.get(k.rev)
            runs, shoes, profile, rev = await pipe.execute()
        return Snapshot(
            athlete_id=athlete_id,
            runs=[decode_run(_text(run_id), raw) for run_id, raw in runs.items()],
            shoes={_text(s): ShoeInfo.decode(raw) for s, raw in shoes.items()},
            settings=AthleteSettings.decode(profile),
            revision=int(rev or 0),
            has_profile=profile is not None,
        )

    @staticmethod
    def compute(
        snap: Snapshot,
        now: dt.datetime,
        *,
        at: dt.date | None = None,
        pattern_window_days: int = PATTERN_WINDOW_DAYS,
    ) -> InsightsLatest:
        return compute_latest(
            snap.athlete_id,
            snap.runs,
            snap.settings,
            snap.shoes,
            now,
            revision=snap.revision,
            at=at,
            pattern_window_days=pattern_window_days,
        )

    async def store(self, doc: InsightsLatest) -> bool:
        """Write the document unless a newer one is stored; True when written."""
        k = InsightsKeys(self.keys, doc.athlete_id)
        written = await self._write(
            keys=[k.latest, k.rev, dirty_key(self.keys)],
            args=[
                doc.training_load.model_dump_json(),
                doc.patterns.model_dump_json(),
                doc.predictions.model_dump_json(),
                doc.motivational.model_dump_json(),
                doc.revision,
                doc.computed_for.isoformat(),
                doc.runs,
                doc.athlete_id,
                doc.training_load.timezone,
            ],
        )
        return bool(written)

    async def refresh(self, athlete_id: str, now: dt.datetime) -> InsightsLatest:
        """Recompute the athlete's document from their current state and store it.

        The computation (tens of ms for years of runs) runs in a worker thread so that the event
        loop keeps serving NATS and Redis meanwhile."""
        snap = await self.snapshot(athlete_id)
        doc = await asyncio.to_thread(self.compute, snap, now)
        await self.store(doc)
        return doc

    async def dirty(self) -> list[str]:
        return sorted(_text(a) for a in await self.redis.smembers(dirty_key(self.keys)))  # type: ignore[misc]

    async def refresh_stale(self, now: dt.datetime, *, chunk: int = 500) -> int:
        """Recompute the documents computed for an earlier local date than the athlete's today
        (the day changed, no event since): readers then rarely recompute on their path."""
        refreshed = 0
        cursor = 0
        while True:
            cursor, members = await self.redis.sscan(athletes_key(self.keys), cursor, count=chunk)  # type: ignore[misc]
            athletes = [_text(a) for a in members]
            async with self.redis.pipeline(transaction=False) as pipe:
                for athlete_id in athletes:
                    pipe.hmget(InsightsKeys(self.keys, athlete_id).latest, ["for", "tz"])
                stamps = await pipe.execute()
            for athlete_id, (day, tz) in zip(athletes, stamps, strict=True):
                if day is None or _text(day) != local_today(_text(tz), now).isoformat():
                    await self.refresh(athlete_id, now)
                    refreshed += 1
            if cursor == 0:
                return refreshed

    async def refresh_dirty(self, now: dt.datetime) -> int:
        """Refresh every athlete marked dirty; returns how many."""
        athletes = await self.dirty()
        for athlete_id in athletes:
            await self.refresh(athlete_id, now)
        return len(athletes)
