"""Insights bounded context: the read models served by the insights service.

Every number carries the formula that produced it, the window it covers and the data coverage
behind it. Below a metric's minimum coverage the metric says `not_enough_data` and what is
missing, with `value = None`: never an invented number.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from maratron_contracts.messages import ReadModel
from maratron_contracts.registry import read_model


class LoadMethod(StrEnum):
    """How one run's training load was measured (the best method the data allows)."""

    TRIMP = "trimp_banister"
    SESSION_RPE = "session_rpe_foster"
    DURATION = "duration_minutes"


class MetricStatus(StrEnum):
    OK = "ok"
    NOT_ENOUGH_DATA = "not_enough_data"


class Part(BaseModel):
    """A nested value object of a read model (not a read model on its own)."""

    model_config = ConfigDict(extra="ignore")


class Coverage(Part):
    window_start: date
    window_end: date
    history_days: int = Field(description="Days of history inside the window (first run -> end).")
    required_days: int = Field(description="Minimum days of history the metric needs.")
    runs: int = Field(description="Runs inside the window.")


class Metric(Part):
    name: str
    status: MetricStatus
    value: float | None = Field(description="None when status is not_enough_data.")
    unit: str = ""
    formula: str = Field(description="The formula's name and convention.")
    window: str = Field(description="Which days the value covers, in words.")
    coverage: Coverage
    band: str | None = Field(default=None, description="Interpretation band of the value.")
    missing: str | None = Field(default=None, description="What data is missing, if any.")
    details: dict[str, float | int | str | None] = Field(default_factory=dict)


class WeekTotal(Part):
    week_start: date
    distance_m: float
    runs: int
    load: float
    longest_run_m: float
    long_run_share: float | None = Field(description="Longest run / week distance.")
    change: float | None = Field(description="(this - previous) / previous week distance.")
    partial: bool = Field(description="True when the week is not over at the `at` date.")


class Streaks(Part):
    window_days: int
    current_streak_days: int = Field(description="Consecutive running days ending at `at`.")
    longest_streak_days: int
    rest_days: int = Field(description="Days without a run in the window.")
    running_days: int


class TimeOfDay(Part):
    runs_with_start_time: int
    shares: dict[str, float] = Field(
        description="early_morning <06, morning 06-10, midday 10-14, afternoon 14-18, evening 18+"
    )
    preference: str | None
    window_days: int


@read_model
class TrainingLoad(ReadModel):
    read_model: ClassVar[str] = "insights.training_load"

    athlete_id: str
    at: date = Field(description="The athlete's local date the values are computed for.")
    timezone: str
    week_start: str
    load_methods: dict[str, int] = Field(description="Runs per load method (see LoadMethod).")
    load_note: str
    weekly_trend: list[WeekTotal] = Field(description="Last 12 local weeks, oldest first.")
    week_over_week: Metric
    acwr_rolling: Metric
    acwr_ewma: Metric
    ctl: Metric
    atl: Metric
    tsb: Metric
    monotony: Metric
    strain: Metric
    long_run_share: Metric
    streaks: Streaks
    time_of_day: TimeOfDay


class PatternCategory(StrEnum):
    ACHIEVEMENT = "achievement"
    PATTERN = "pattern"
    CONCERN = "concern"


class Pattern(Part):
    key: str = Field(description="Stable identifier of the kind of insight, e.g. acwr_high.")
    category: PatternCategory
    text: str
    evidence: dict[str, Any]
    confidence: float = Field(ge=0, le=1)
    recommendation: str | None = None


@read_model
class Patterns(ReadModel):
    read_model: ClassVar[str] = "insights.patterns"

    athlete_id: str
    at: date
    window_days: int
    runs_in_window: int
    insights: list[Pattern]


class Effort(Part):
    run_id: str
    date: date
    distance_m: float
    duration_s: float
    kind: Literal["race", "hard", "any"] = Field(
        description="race (workout_type race), hard (tempo/interval or effort >= 7), any run."
    )
    vdot: float


class PredictionValue(Part):
    formula: str
    time_s: float
    time: str = Field(description="H:MM:SS, or M:SS under an hour.")
    pace_s_per_km: float
    from_run_id: str


class RacePrediction(Part):
    distance_m: float
    label: str
    riegel: PredictionValue
    vdot: PredictionValue


@read_model
class Predictions(ReadModel):
    read_model: ClassVar[str] = "insights.predictions"

    athlete_id: str
    at: date
    window_days: int
    status: MetricStatus
    missing: str | None = None
    effort_basis: str = Field(description="Which efforts were used: races, hard runs or any run.")
    vdot: float | None = None
    efforts: list[Effort] = Field(default_factory=list, description="Best efforts, best first.")
    predictions: list[RacePrediction] = Field(default_factory=list)


class TalkingPoint(Part):
    text: str
    evidence: dict[str, Any]


@read_model
class MotivationalContext(ReadModel):
    read_model: ClassVar[str] = "insights.motivational_context"

    athlete_id: str
    at: date
    tone: Literal["celebratory", "encouraging", "cautious", "re_engaging", "welcoming"]
    focus: str
    days_since_last_run: int | None
    talking_points: list[TalkingPoint]


@read_model
class InsightsLatest(ReadModel):
    """The precomputed document the service keeps per athlete (resource insights://me/latest)."""

    read_model: ClassVar[str] = "insights.latest"

    athlete_id: str
    computed_for: date = Field(description="Local date the document was computed for.")
    revision: int = Field(description="Events applied for this athlete when computed.")
    runs: int = Field(description="Runs up to computed_for.")
    training_load: TrainingLoad
    patterns: Patterns
    predictions: Predictions
    motivational: MotivationalContext


class WeekCompare(Part):
    this_week: WeekTotal | None
    last_week: WeekTotal | None
    distance_change: float | None


@read_model
class CoachingSnapshot(ReadModel):
    """Everything an assistant needs first, in one call."""

    read_model: ClassVar[str] = "insights.coaching_snapshot"

    athlete_id: str
    at: date
    profile: dict[str, Any] | None
    preferences: dict[str, Any] | None
    last_runs: list[dict[str, Any]]
    weeks: WeekCompare
    load: dict[str, Any] = Field(description="Headline load metrics: value, band, formula.")
    shoe_alerts: list[dict[str, Any]]
    goals: list[dict[str, Any]]
    open_concerns: list[Pattern]
    motivational: MotivationalContext | None
    notes: list[str] = Field(default_factory=list, description="What could not be included.")
