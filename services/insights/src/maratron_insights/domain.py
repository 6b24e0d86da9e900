"""Pure domain of the insights service: what it keeps from run, shoe and profile events, and how
the per-athlete insights document is computed from that (via `science`). No I/O.

Insights has no commands: its state is a projection of other services' events. Per athlete it
keeps the runs (the fields insights needs, compactly encoded), the shoes and the profile fields
that change the science (time zone, week start, sex, heart rates).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from maratron_contracts.insights import InsightsLatest, Pattern, PatternCategory
from maratron_contracts.runs import WEAR_ALERT_FRACTION
from maratron_contracts.units import local_today

from maratron_insights import science
from maratron_insights.science import HeartRateProfile, RunSample, ScoredRun

PROFILE_FIELDS = ("timezone", "week_start", "sex", "resting_hr", "max_hr")
PATTERN_WINDOW_DAYS = 90


@dataclass(frozen=True)
class AthleteSettings:
    """The profile fields the science depends on (defaults until a profile event arrives)."""

    timezone: str = "UTC"
    week_start: str = "monday"
    sex: str | None = None
    resting_hr: int | None = None
    max_hr: int | None = None

    @property
    def hr(self) -> HeartRateProfile:
        return HeartRateProfile(self.sex, self.resting_hr, self.max_hr)

    def merged(self, data: Mapping[str, Any]) -> AthleteSettings:
        """Apply a profile event's data: only fields present and not None change."""
        changes = {k: data[k] for k in PROFILE_FIELDS if data.get(k) is not None}
        return replace(self, **changes)

    def encode(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def decode(cls, raw: str | bytes | None) -> AthleteSettings:
        if raw is None:
            return cls()
        return cls(**{k: v for k, v in json.loads(raw).items() if k in PROFILE_FIELDS})


@dataclass(frozen=True)
class ShoeInfo:
    name: str
    max_distance_m: int
    initial_distance_m: int = 0
    retired: bool = False

    def encode(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def decode(cls, raw: str | bytes) -> ShoeInfo:
        return cls(**json.loads(raw))


# -- runs: compact encoding (a list, ~60 bytes; thousands are decoded per recomputation) --------
@dataclass(frozen=True)
class StoredRun:
    sample: RunSample
    shoe_id: str | None


def run_from_event(data: Mapping[str, Any]) -> StoredRun:
    """A run from RunLogged / RunUpdated data (both carry the complete run)."""
    start = data.get("start_time")
    minute = None
    if start:
        t = dt.time.fromisoformat(str(start))
        minute = t.hour * 60 + t.minute
    sample = RunSample(
        run_id=str(data["run_id"]),
        day=dt.date.fromisoformat(str(data["date"])),
        distance_m=float(data["distance_m"]),
        duration_s=float(data["duration_s"]),
        avg_hr=data.get("avg_hr"),
        perceived_effort=data.get("perceived_effort"),
        start_minute=minute,
        workout_type=data.get("workout_type"),
    )
    return StoredRun(sample, data.get("shoe_id"))


def encode_run(run: StoredRun) -> str:
    s = run.sample
    return json.dumps(
        [
            s.day.isoformat(),
            s.distance_m,
            s.duration_s,
            s.avg_hr,
            s.perceived_effort,
            s.start_minute,
            s.workout_type,
            run.shoe_id,
        ],
        separators=(",", ":"),
    )


def decode_run(run_id: str, raw: str | bytes) -> StoredRun:
    day, distance, duration, hr, effort, minute, kind, shoe = json.loads(raw)
    sample = RunSample(
        run_id, dt.date.fromisoformat(day), distance, duration, hr, effort, minute, kind
    )
    return StoredRun(sample, shoe)


# -- the insights document ------------------------------------------------------------------------
def shoe_concerns(runs: Iterable[StoredRun], shoes: Mapping[str, ShoeInfo]) -> list[Pattern]:
    """Active shoes at or past 80% of their retirement distance."""
    run_m: dict[str, float] = {}
    for r in runs:
        if r.shoe_id is not None:
            run_m[r.shoe_id] = run_m.get(r.shoe_id, 0.0) + r.sample.distance_m
    out = []
    for shoe_id, shoe in sorted(shoes.items()):
        total = shoe.initial_distance_m + run_m.get(shoe_id, 0.0)
        if shoe.retired or total < WEAR_ALERT_FRACTION * shoe.max_distance_m:
            continue
        share = total / shoe.max_distance_m
        out.append(
            Pattern(
                key="shoe_wear",
                category=PatternCategory.CONCERN,
                text=f"Shoe '{shoe.name}' has {total / 1000:.0f} km, {share:.0%} of its "
                f"{shoe.max_distance_m / 1000:.0f} km life.",
                evidence={
                    "shoe_id": shoe_id,
                    "distance_m": total,
                    "max_distance_m": shoe.max_distance_m,
                },
                confidence=1.0,
                recommendation="Plan a replacement pair; retire the shoe at its limit.",
            )
        )
    return out


def compute_latest(
    athlete_id: str,
    runs: Iterable[StoredRun],
    settings: AthleteSettings,
    shoes: Mapping[str, ShoeInfo],
    now: dt.datetime,
    *,
    revision: int = 0,
    at: dt.date | None = None,
    pattern_window_days: int = PATTERN_WINDOW_DAYS,
) -> InsightsLatest:
    """Every insight of one athlete as of `at` (default: their local today at `now`)."""
    stored = list(runs)
    day = at or local_today(settings.timezone, now)
    scored: list[ScoredRun] = [science.run_load(r.sample, settings.hr) for r in stored]
    load = science.training_load(
        athlete_id, scored, day, week_start=settings.week_start, timezone=settings.timezone
    )
    found = science.patterns(athlete_id, scored, day, load, pattern_window_days)
    found.insights[:0] = shoe_concerns(stored, shoes)
    return InsightsLatest(
        athlete_id=athlete_id,
        computed_for=day,
        revision=revision,
        runs=sum(1 for r in stored if r.sample.day <= day),
        training_load=load,
        patterns=found,
        predictions=science.predictions(athlete_id, scored, day),
        motivational=science.motivational_context(athlete_id, scored, day, found),
    )
