"""Read-model readers for the gateway: insights straight from Redis.

The service keeps one document per athlete, computed for their local today. A reader takes the
stored part it needs (one HMGET); when the document is missing or was computed for an earlier
local date (no event since midnight), it recomputes it from the athlete's state (one MULTI) and
stores it for the next reader. `at` (a past date) or another pattern window are computed on the
fly and not stored.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

from maratron_context.queries import ContextQueries
from maratron_contracts.errors import NotFound
from maratron_contracts.insights import (
    CoachingSnapshot,
    InsightsLatest,
    MetricStatus,
    MotivationalContext,
    PatternCategory,
    Patterns,
    Predictions,
    TrainingLoad,
    WeekCompare,
)
from maratron_contracts.units import InvalidValue, local_today
from maratron_projections import Keys
from maratron_runs.queries import RunsQueries
from pydantic import BaseModel
from redis.asyncio import Redis

from maratron_insights import science
from maratron_insights.readmodel import InsightsKeys
from maratron_insights.state import InsightsState

NO_DATA = (
    "insights knows nothing about this athlete yet: register_athlete and log_run first "
    "(new runs reach insights within a second)"
)
MAX_WINDOW_DAYS = 3650
SNAPSHOT_RUNS = 5
HEADLINE_METRICS = (
    "acwr_rolling",
    "acwr_ewma",
    "ctl",
    "atl",
    "tsb",
    "monotony",
    "strain",
    "week_over_week",
    "long_run_share",
)

Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class InsightsQueries:
    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        *,
        runs: RunsQueries | None = None,
        context: ContextQueries | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.state = InsightsState(redis, keys)
        self.runs = runs or RunsQueries(redis, keys)
        self.context = context or ContextQueries(redis, keys)
        self.clock = clock

    # -- the stored document ----------------------------------------------------------------
    async def _part(self, athlete_id: str, part: str, model: type[BaseModel]) -> Any:
        """One part of the current document, recomputed first when stale."""
        values: list[Any] = await self.redis.hmget(  # type: ignore[misc]
            InsightsKeys(self.keys, athlete_id).latest, [part, "for", "tz"]
        )
        raw, day, tz = values
        now = self.clock()
        if raw is not None and _text(day) == local_today(_text(tz), now).isoformat():
            return model.model_validate_json(raw)
        doc = await self._recompute(athlete_id, now)
        return getattr(doc, part)

    async def _recompute(self, athlete_id: str, now: dt.datetime) -> InsightsLatest:
        snap = await self.state.snapshot(athlete_id)
        if snap.empty:
            raise NotFound(NO_DATA)
        doc = self.state.compute(snap, now)
        await self.state.store(doc)
        return doc

    async def latest(self, athlete_id: str) -> InsightsLatest:
        """The whole current document (resource insights://me/latest)."""
        k = InsightsKeys(self.keys, athlete_id)
        fields = [
            "training_load",
            "patterns",
            "predictions",
            "motivational",
            "for",
            "tz",
            "rev",
            "runs",
        ]
        raw: list[Any] = await self.redis.hmget(k.latest, fields)  # type: ignore[misc]
        values = dict(zip(fields, raw, strict=True))
        now = self.clock()
        if (
            values["training_load"] is None
            or _text(values["for"]) != local_today(_text(values["tz"]), now).isoformat()
        ):
            return await self._recompute(athlete_id, now)
        return InsightsLatest(
            athlete_id=athlete_id,
            computed_for=dt.date.fromisoformat(_text(values["for"])),
            revision=int(values["rev"]),
            runs=int(values["runs"]),
            training_load=TrainingLoad.model_validate_json(values["training_load"]),
            patterns=Patterns.model_validate_json(values["patterns"]),
            predictions=Predictions.model_validate_json(values["predictions"]),
            motivational=MotivationalContext.model_validate_json(values["motivational"]),
        )

    # -- tools ------------------------------------------------------------------------------
    async def training_load(self, athlete_id: str, at: dt.date | None = None) -> TrainingLoad:
        if at is None:
            result: TrainingLoad = await self._part(athlete_id, "training_load", TrainingLoad)
            return result
        snap = await self.state.snapshot(athlete_id)
        if snap.empty:
            raise NotFound(NO_DATA)
        return self.state.compute(snap, self.clock(), at=at).training_load

    async def patterns(self, athlete_id: str, window_days: int = 90) -> Patterns:
        if not 7 <= window_days <= MAX_WINDOW_DAYS:
            raise InvalidValue(f"window_days {window_days} must be between 7 and {MAX_WINDOW_DAYS}")
        if window_days == 90:
            result: Patterns = await self._part(athlete_id, "patterns", Patterns)
            return result
        snap = await self.state.snapshot(athlete_id)
        if snap.empty:
            raise NotFound(NO_DATA)
        return self.state.compute(snap, self.clock(), pattern_window_days=window_days).patterns

    async def predict_race(self, athlete_id: str, distance_m: float, label: str) -> Predictions:
        """Predictions for one distance from the best recent efforts (Riegel and VDOT)."""
        if not science.PREDICTION_MIN_DISTANCE_M <= distance_m <= 50_000:
            raise InvalidValue(
                f"distance {distance_m / 1000:g} km is outside what the formulas cover: "
                "use 1.5 km to 50 km (Riegel is validated from 1500 m to the marathon)"
            )
        stored: Predictions = await self._part(athlete_id, "predictions", Predictions)
        if stored.status is not MetricStatus.OK or not stored.efforts:
            return stored
        return stored.model_copy(
            update={"predictions": [science.predict(stored.efforts[0], distance_m, label)]}
        )

    async def motivational_context(self, athlete_id: str) -> MotivationalContext:
        result: MotivationalContext = await self._part(
            athlete_id, "motivational", MotivationalContext
        )
        return result

    async def coaching_snapshot(self, athlete_id: str, *, agent: str | None) -> CoachingSnapshot:
        """Profile, preferences, last runs, this week vs last, load, shoe alerts, goals and
        open concerns in one call (the reads run concurrently)."""
        notes: list[str] = []
        latest_t = asyncio.ensure_future(self._latest_or_none(athlete_id))
        profile, page, shoes, prefs, goals = await asyncio.gather(
            self.runs.find_profile(athlete_id),
            self.runs.list_runs(athlete_id, limit=SNAPSHOT_RUNS),
            self.runs.list_shoes(athlete_id),
            self.context.preferences(athlete_id),
            self.context.memories(athlete_id, agent=agent, kind="goal"),
        )
        latest = await latest_t
        if profile is None:
            notes.append("no profile: call register_athlete to set time zone, unit and week start")
        if latest is None:
            notes.append(NO_DATA)
        today = (
            latest.computed_for
            if latest
            else local_today(profile.timezone if profile else "UTC", self.clock())
        )
        weeks = WeekCompare(this_week=None, last_week=None, distance_change=None)
        load: dict[str, Any] = {}
        if latest is not None:
            trend = latest.training_load.weekly_trend
            this, last = trend[-1], trend[-2]
            change = (
                (this.distance_m - last.distance_m) / last.distance_m if last.distance_m else None
            )
            weeks = WeekCompare(this_week=this, last_week=last, distance_change=change)
            tl = latest.training_load
            for name in HEADLINE_METRICS:
                m = getattr(tl, name)
                load[name] = {
                    "value": m.value,
                    "status": m.status.value,
                    "band": m.band,
                    "formula": m.formula,
                    "missing": m.missing,
                }
            load["load_methods"] = tl.load_methods
        return CoachingSnapshot(
            athlete_id=athlete_id,
            at=today,
            profile=profile.model_dump(mode="json", exclude={"email"}) if profile else None,
            preferences=prefs.model_dump(mode="json"),
            last_runs=[
                r.model_dump(
                    mode="json",
                    include={
                        "run_id",
                        "date",
                        "start_time",
                        "distance_km",
                        "distance_mi",
                        "duration",
                        "pace_per_km",
                        "pace_per_mi",
                        "workout_type",
                        "perceived_effort",
                        "avg_hr",
                        "shoe_id",
                    },
                )
                for r in page.runs
            ],
            weeks=weeks,
            load=load,
            shoe_alerts=[
                s.model_dump(
                    mode="json",
                    include={
                        "shoe_id",
                        "name",
                        "distance_km",
                        "distance_mi",
                        "max_distance_km",
                        "percent_of_max",
                        "is_default",
                    },
                )
                for s in shoes
                if s.wear_alert
            ],
            goals=[
                g.model_dump(mode="json", include={"memory_id", "text", "created_at", "expires_at"})
                for g in goals
            ],
            open_concerns=[
                p
                for p in (latest.patterns.insights if latest else [])
                if p.category is PatternCategory.CONCERN
            ],
            motivational=latest.motivational if latest else None,
            notes=notes,
        )

    async def _latest_or_none(self, athlete_id: str) -> InsightsLatest | None:
        try:
            return await self.latest(athlete_id)
        except NotFound:
            return None
