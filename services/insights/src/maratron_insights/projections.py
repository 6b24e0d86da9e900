"""The insights projection: run, shoe and profile events -> the per-athlete state in Redis.

Each event changes one entry (a run, a shoe, the profile), bumps the athlete's revision and
marks the athlete dirty, all in the projector's MULTI with its applied marker (so a redelivered
event changes nothing). The derived document is recomputed afterwards by `state.InsightsState`.
"""

from __future__ import annotations

from maratron_contracts.envelope import RecordedEvent
from maratron_projections import Keys
from redis.asyncio.client import Pipeline

from maratron_insights.domain import AthleteSettings, ShoeInfo, encode_run, run_from_event
from maratron_insights.readmodel import InsightsKeys, athletes_key, dirty_key

RUN_EVENTS = frozenset({"RunLogged", "RunUpdated", "RunDeleted"})
PROFILE_EVENTS = frozenset({"AthleteRegistered", "ProfileUpdated", "AthleteDeleted"})
SHOE_EVENTS = frozenset({"ShoeAdded", "ShoeRetired", "DefaultShoeSet"})


class InsightsProjection:
    name: str = "insights"
    # Every event type of the consumed streams, so applied markers stay contiguous (no gap
    # fills from the store for events that change nothing here).
    event_types: frozenset[str] = RUN_EVENTS | PROFILE_EVENTS | SHOE_EVENTS

    async def apply(self, event: RecordedEvent, pipe: Pipeline, keys: Keys) -> None:
        k = InsightsKeys.of(keys, event.athlete_id)
        data = event.data
        kind = event.event_type
        if kind in ("AthleteRegistered", "ProfileUpdated"):
            await pipe.watch(k.profile)
            current = AthleteSettings.decode(await pipe.get(k.profile))
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.set(k.profile, current.merged(data).encode())
        elif kind == "ShoeRetired":
            await pipe.watch(k.shoes)
            raw = await pipe.hget(k.shoes, data["shoe_id"])  # type: ignore[misc]
            pipe.multi()  # type: ignore[no-untyped-call]
            if raw is not None:
                shoe = ShoeInfo.decode(raw)
                retired = ShoeInfo(shoe.name, shoe.max_distance_m, shoe.initial_distance_m, True)
                pipe.hset(k.shoes, data["shoe_id"], retired.encode())
        else:
            pipe.multi()  # type: ignore[no-untyped-call]
            if kind in ("RunLogged", "RunUpdated"):
                pipe.hset(k.runs, data["run_id"], encode_run(run_from_event(data)))
            elif kind == "RunDeleted":
                pipe.hdel(k.runs, data["run_id"])
            elif kind == "ShoeAdded":
                shoe = ShoeInfo(
                    name=data["name"],
                    max_distance_m=int(data["max_distance_m"]),
                    initial_distance_m=int(data.get("initial_distance_m") or 0),
                )
                pipe.hset(k.shoes, data["shoe_id"], shoe.encode())
            # AthleteDeleted, DefaultShoeSet: nothing insights keeps changes.
        pipe.incr(k.rev)
        pipe.sadd(dirty_key(keys), event.athlete_id)
        pipe.sadd(athletes_key(keys), event.athlete_id)
