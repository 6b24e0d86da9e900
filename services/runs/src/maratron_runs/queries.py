"""Read-model readers for the gateway: pure Redis reads, one or two round trips each.

Every method takes the athlete id and only reads that athlete's keys (see `readmodel`).
Missing data the caller must act on raises a typed error whose message says what to do.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from maratron_contracts.errors import NotFound
from maratron_contracts.runs import MAX_LIST_LIMIT, Profile, Run, RunPage, Shoe, Summary
from maratron_contracts.units import (
    InvalidValue,
    format_duration,
    format_pace,
    from_metres,
    local_today,
    pace_seconds,
    parse_period,
)
from maratron_projections import Keys
from redis.asyncio import Redis

from maratron_runs.domain import DELETED, NO_PROFILE
from maratron_runs.readmodel import (
    RunsKeys,
    cover,
    decode_cursor,
    encode_cursor,
    text,
)

# KEYS: index, data. ARGV: max, min (BYLEX bounds), count. -> {members, run JSONs}
_PAGE = """
local members = redis.call('ZRANGE', KEYS[1], ARGV[1], ARGV[2], 'BYLEX', 'REV',
                           'LIMIT', 0, tonumber(ARGV[3]))
if #members == 0 then return {{}, {}} end
local ids = {}
for i, m in ipairs(members) do ids[i] = string.match(m, '([^|]+)$') end
return {members, redis.call('HMGET', KEYS[2], unpack(ids))}
"""

# KEYS: days hash. ARGV[1]: longest key prefix, ARGV[2..]: buckets (dates or months).
# -> {count, metres, seconds, elevation, longest run id or false, longest metres}
_SUMMARY = """
local c, d, t, e = 0, 0, 0, 0
local best_id, best_m = false, 0
for i = 2, #ARGV do
  local day = ARGV[i]
  local v = redis.call('HMGET', KEYS[1], day .. '|c', day .. '|d', day .. '|t', day .. '|e')
  local n = tonumber(v[1]) or 0
  if n > 0 then
    c = c + n
    d = d + (tonumber(v[2]) or 0)
    t = t + (tonumber(v[3]) or 0)
    e = e + (tonumber(v[4]) or 0)
    local top = redis.call('ZREVRANGE', ARGV[1] .. day, 0, 0, 'WITHSCORES')
    if top[1] and tonumber(top[2]) > best_m then
      best_id = top[1]
      best_m = tonumber(top[2])
    end
  end
end
return {c, d, t, e, best_id, best_m}
"""


class RunsQueries:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._page = redis.register_script(_PAGE)
        self._summary = redis.register_script(_SUMMARY)

    def _k(self, athlete_id: str) -> RunsKeys:
        return RunsKeys(self.keys, athlete_id)

    # -- profile ----------------------------------------------------------------------------
    async def find_profile(self, athlete_id: str) -> Profile | None:
        """The profile, or None when there is none (never registered, or deleted)."""
        raw = await self.redis.get(self._k(athlete_id).profile)
        return None if raw is None else Profile.model_validate_json(raw)

    async def get_profile(self, athlete_id: str) -> Profile:
        """The profile; NotFound says whether to register or that the athlete was deleted."""
        k = self._k(athlete_id)
        raw, erased = await self.redis.mget([k.profile, k.erased])
        if raw is not None:
            return Profile.model_validate_json(raw)
        raise NotFound(DELETED if erased is not None else NO_PROFILE)

    # -- runs -------------------------------------------------------------------------------
    async def get_run(self, athlete_id: str, run_id: str) -> Run:
        raw = await self.redis.hget(self._k(athlete_id).runs, run_id)  # type: ignore[misc]
        if raw is None:
            raise NotFound(f"run {run_id!r} not found: list_runs shows your runs and their run_id")
        return Run.model_validate_json(raw)

    async def list_runs(
        self,
        athlete_id: str,
        since: dt.date | None = None,
        until: dt.date | None = None,
        limit: int = 10,
        cursor: str | None = None,
    ) -> RunPage:
        """Runs newest first (local date, then start time), `since`/`until` inclusive."""
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise InvalidValue(f"limit {limit} must be between 1 and {MAX_LIST_LIMIT}")
        if since is not None and until is not None and since > until:
            raise InvalidValue(
                f"since ({since}) is after until ({until}): swap them or leave one out"
            )
        upper = "+" if until is None else f"[{until.isoformat()}~"  # '~' sorts after 'T...'
        if cursor is not None:
            after = decode_cursor(cursor)
            if upper == "+" or after < upper[1:]:
                upper = f"({after}"
        lower = "-" if since is None else f"[{since.isoformat()}"
        k = self._k(athlete_id)
        members, blobs = await self._page(keys=[k.index, k.runs], args=[upper, lower, limit + 1])
        # the index and the data change in one MULTI: a blob is never missing
        runs = [Run.model_validate_json(blob) for blob in blobs[:limit] if blob is not None]
        next_cursor = encode_cursor(text(members[limit - 1])) if len(members) > limit else None
        return RunPage.model_construct(runs=runs, next_cursor=next_cursor)  # runs validated

    async def summary(
        self,
        athlete_id: str,
        period: str,
        at: dt.date | None = None,
        *,
        now: dt.datetime | None = None,
    ) -> Summary:
        """Totals of the calendar week/month/year containing `at` (default: the athlete's
        local today), or of the N days ending on `at` (`Nd`)."""
        parsed = parse_period(period)
        profile = await self.get_profile(athlete_id)
        if at is None:
            at = local_today(profile.timezone, now or dt.datetime.now(dt.UTC))
        start, end = parsed.bounds(at, profile.week_start)
        days = (end - start).days + 1
        k = self._k(athlete_id)
        raw: list[Any] = await self._summary(
            keys=[k.days], args=[k.longest_prefix, *cover(start, end)]
        )
        count, metres, seconds, elevation = (int(x) for x in raw[:4])
        longest_id = text(raw[4]) if raw[4] else None
        longest_m = int(raw[5]) if longest_id else 0
        return Summary(
            athlete_id=athlete_id,
            period=parsed.label,
            start=start,
            end=end,
            days=days,
            count=count,
            distance_m=metres,
            distance_km=from_metres(metres, "km"),
            distance_mi=from_metres(metres, "mi"),
            moving_time_s=seconds,
            moving_time=format_duration(seconds),
            average_pace_per_km=format_pace(pace_seconds(metres, seconds, "km")),
            average_pace_per_mi=format_pace(pace_seconds(metres, seconds, "mi")),
            elevation_gain_m=elevation,
            longest_run_id=longest_id,
            longest_run_m=longest_m,
            longest_run_km=from_metres(longest_m, "km"),
            longest_run_mi=from_metres(longest_m, "mi"),
            runs_per_week=round(count * 7 / days, 2),
        )

    # -- shoes ------------------------------------------------------------------------------
    async def list_shoes(self, athlete_id: str, include_retired: bool = False) -> list[Shoe]:
        """Shoes with exact distance, % of max and wear alert; active first, oldest first."""
        k = self._k(athlete_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(k.shoes)
            pipe.hgetall(k.shoe_distance)
            pipe.hgetall(k.shoe_runs)
            pipe.get(k.default_shoe)
            data, distances, counts, default = await pipe.execute()
        dist = {text(key): int(v) for key, v in distances.items()}
        runs = {text(key): int(v) for key, v in counts.items()}
        default_id = text(default) if default is not None else None
        shoes = []
        for key, blob in data.items():
            shoe_id = text(key)
            fields = json.loads(blob)
            if fields.get("retired") and not include_retired:
                continue
            fields.update(
                run_distance_m=dist.get(shoe_id, 0),
                run_count=runs.get(shoe_id, 0),
                is_default=shoe_id == default_id,
            )
            shoes.append(Shoe.model_validate(fields))
        shoes.sort(key=lambda s: (s.retired, s.added_at, s.shoe_id))
        return shoes

    async def counts(self, athlete_id: str) -> tuple[int, int]:
        """(runs, shoes) the athlete has in the read models."""
        k = self._k(athlete_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hlen(k.runs)
            pipe.hlen(k.shoes)
            runs, shoes = await pipe.execute()
        return int(runs), int(shoes)
