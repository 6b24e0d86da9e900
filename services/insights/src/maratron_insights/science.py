"""Pure training science: loads, load ratios, fitness/fatigue, monotony, streaks, predictions.

No I/O. Inputs are runs already bucketed by the athlete's LOCAL date; weeks start on the
athlete's `week_start`. Conventions fixed here (and named in every result):

* Daily load = sum of the day's run loads; a rest day is 0. A run's load is Banister TRIMP when
  its average HR and the athlete's sex, resting and max HR are known, else Foster session RPE
  (minutes x perceived effort 1-10), else its duration in minutes. The mix is reported.
* History starts on the athlete's first run: days before it are not rest days, and a metric needs
  a minimum number of history days before it returns a number.
* EWMA-type series start at 0 on the day before the first run.
* CTL/ATL use k = 1/tau (TrainingPeaks convention), tau = 42 and 7 days; TSB = CTL - ATL of the
  day before `at` (the form one starts the day with).
* Monotony uses the population standard deviation of the last 7 daily loads (Foster 1998).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import NamedTuple

from maratron_contracts.insights import (
    Coverage,
    Effort,
    LoadMethod,
    Metric,
    MetricStatus,
    MotivationalContext,
    Pattern,
    PatternCategory,
    Patterns,
    Predictions,
    PredictionValue,
    RacePrediction,
    Streaks,
    TalkingPoint,
    TimeOfDay,
    TrainingLoad,
    WeekTotal,
)
from maratron_contracts.units import WEEKDAYS, Period, format_duration

HARD_WORKOUTS = frozenset({"tempo", "interval"})

ACWR_MIN_DAYS = 28
CTL_MIN_DAYS = 42
ATL_MIN_DAYS = 7
MONOTONY_MIN_DAYS = 7
TREND_WEEKS = 12
STREAK_WINDOW_DAYS = 90
TIME_OF_DAY_MIN_RUNS = 5
PREDICTION_WINDOW_DAYS = 120
PREDICTION_MIN_DISTANCE_M = 1500.0
STANDARD_RACES: tuple[tuple[str, float], ...] = (
    ("5k", 5000.0),
    ("10k", 10000.0),
    ("half", 21097.5),
    ("marathon", 42195.0),
)

# Banister TRIMP constants by sex: (a, b).
TRIMP_CONSTANTS: dict[str, tuple[float, float]] = {"male": (0.64, 1.92), "female": (0.86, 1.67)}


# -- inputs ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HeartRateProfile:
    sex: str | None = None
    resting_hr: float | None = None
    max_hr: float | None = None


class RunSample(NamedTuple):
    """One run as insights needs it. `day` is the athlete's local date of the run.

    A NamedTuple: thousands are built per recomputation, and tuples build fast."""

    run_id: str
    day: date
    distance_m: float
    duration_s: float
    avg_hr: float | None = None
    perceived_effort: int | None = None
    start_minute: int | None = None  # local minutes after midnight
    workout_type: str | None = None


class ScoredRun(NamedTuple):
    sample: RunSample
    load: float
    method: str  # a LoadMethod value


# Plain strings: enum member access is slow in the per-run loop.
_TRIMP, _SRPE, _DURATION = (
    m.value for m in (LoadMethod.TRIMP, LoadMethod.SESSION_RPE, LoadMethod.DURATION)
)


# -- per-run load ---------------------------------------------------------------------------------
def trimp_banister(duration_s: float, avg_hr: float, hr: HeartRateProfile) -> float | None:
    """Banister TRIMP with the run's average HR as a single segment; None if not computable."""
    if hr.sex not in TRIMP_CONSTANTS or hr.resting_hr is None or hr.max_hr is None:
        return None
    if hr.max_hr <= hr.resting_hr:
        return None
    a, b = TRIMP_CONSTANTS[hr.sex]
    hrr = (avg_hr - hr.resting_hr) / (hr.max_hr - hr.resting_hr)
    hrr = min(max(hrr, 0.0), 1.0)
    return (duration_s / 60.0) * hrr * a * math.exp(b * hrr)


def run_load(sample: RunSample, hr: HeartRateProfile) -> ScoredRun:
    """The best load measure the data allows for one run."""
    if sample.avg_hr is not None:
        trimp = trimp_banister(sample.duration_s, sample.avg_hr, hr)
        if trimp is not None:
            return ScoredRun(sample, trimp, _TRIMP)
    if sample.perceived_effort is not None:
        return ScoredRun(sample, sample.duration_s / 60.0 * sample.perceived_effort, _SRPE)
    return ScoredRun(sample, sample.duration_s / 60.0, _DURATION)


# -- daily series ---------------------------------------------------------------------------------
@dataclass
class Day:
    load: float = 0.0
    distance_m: float = 0.0
    duration_s: float = 0.0
    runs: int = 0
    longest_m: float = 0.0


@dataclass
class Series:
    """Daily totals from the first run to `at` (inclusive); index 0 is the first day."""

    at: date
    first: date | None
    days: list[Day] = field(default_factory=list)

    @property
    def history_days(self) -> int:
        return len(self.days)

    def day(self, d: date) -> Day:
        if self.first is None or d < self.first or d > self.at:
            return Day()
        return self.days[(d - self.first).days]

    def loads(self) -> list[float]:
        return [d.load for d in self.days]


def daily_series(runs: Iterable[ScoredRun], at: date) -> Series:
    kept = [r for r in runs if r.sample.day <= at]
    if not kept:
        return Series(at=at, first=None)
    first = min(r.sample.day for r in kept)
    days = [Day() for _ in range((at - first).days + 1)]
    for r in kept:
        d = days[(r.sample.day - first).days]
        d.load += r.load
        d.distance_m += r.sample.distance_m
        d.duration_s += r.sample.duration_s
        d.runs += 1
        d.longest_m = max(d.longest_m, r.sample.distance_m)
    return Series(at=at, first=first, days=days)


def week_start_of(d: date, week_start: str) -> date:
    return Period("week").bounds(d, week_start)[0]


# -- metric helpers ------------------------------------------------------------------------------
def _coverage(series: Series, window_days: int, required: int) -> Coverage:
    start = series.at - timedelta(days=window_days - 1)
    history = min(series.history_days, window_days)
    runs = sum(
        series.days[i].runs
        for i in range(max(0, series.history_days - window_days), series.history_days)
    )
    return Coverage(
        window_start=start,
        window_end=series.at,
        history_days=history,
        required_days=required,
        runs=runs,
    )


def _missing(
    name: str, formula: str, window: str, coverage: Coverage, missing: str, unit: str = ""
) -> Metric:
    return Metric(
        name=name,
        status=MetricStatus.NOT_ENOUGH_DATA,
        value=None,
        unit=unit,
        formula=formula,
        window=window,
        coverage=coverage,
        missing=missing,
    )


def _history_missing(series: Series, required: int) -> str:
    if series.first is None:
        return "no runs recorded yet"
    return (
        f"needs {required} days of history, has {series.history_days} "
        f"(first run {series.first.isoformat()})"
    )


def ewma(loads: Sequence[float], lam: float) -> list[float]:
    """EWMA_t = lam * load_t + (1 - lam) * EWMA_{t-1}, starting from 0 before the first day."""
    out: list[float] = []
    value = 0.0
    for x in loads:
        value = lam * x + (1.0 - lam) * value
        out.append(value)
    return out


def acwr_band(ratio: float) -> str:
    if ratio < 0.8:
        return "under 0.8: lower load than usual (Gabbett 2016 flag, not a diagnosis)"
    if ratio <= 1.3:
        return "0.8-1.3: the 'sweet spot' (Gabbett 2016)"
    if ratio < 1.5:
        return "1.3-1.5: caution, load rising faster than usual (Gabbett 2016)"
    return "1.5 or more: high spike in load, a flag for injury risk (Gabbett 2016)"


def _acwr_metric(
    name: str,
    formula: str,
    window: str,
    cov: Coverage,
    acute: float,
    chronic: float,
    details: dict[str, float],
) -> Metric:
    """An ACWR of either form: acute / chronic with its Gabbett band (chronic is non-zero)."""
    ratio = acute / chronic
    return Metric(
        name=name,
        status=MetricStatus.OK,
        value=ratio,
        formula=formula,
        window=window,
        coverage=cov,
        band=acwr_band(ratio),
        details=details,
    )


def acwr_rolling(series: Series) -> Metric:
    formula = "ACWR rolling averages, coupled: mean daily load last 7 days / last 28 days"
    window = "last 7 and 28 days"
    cov = _coverage(series, 28, ACWR_MIN_DAYS)
    if series.history_days < ACWR_MIN_DAYS:
        return _missing(
            "acwr_rolling", formula, window, cov, _history_missing(series, ACWR_MIN_DAYS)
        )
    loads = series.loads()
    acute = sum(loads[-7:]) / 7.0
    chronic = sum(loads[-28:]) / 28.0
    if chronic == 0:
        return _missing(
            "acwr_rolling", formula, window, cov, "no training load in the last 28 days"
        )
    return _acwr_metric(
        "acwr_rolling", formula, window, cov, acute, chronic,
        {"acute_mean_load": acute, "chronic_mean_load": chronic},
    )  # fmt: skip


def acwr_ewma(series: Series) -> Metric:
    formula = "ACWR exponentially weighted (Williams 2017), lambda = 2/(N+1), N = 7 and 28"
    window = "all history, weighted to the last 7 and 28 days"
    cov = _coverage(series, 28, ACWR_MIN_DAYS)
    if series.history_days < ACWR_MIN_DAYS:
        return _missing("acwr_ewma", formula, window, cov, _history_missing(series, ACWR_MIN_DAYS))
    loads = series.loads()
    acute = ewma(loads, 2.0 / 8.0)[-1]
    chronic = ewma(loads, 2.0 / 29.0)[-1]
    if chronic == 0:
        return _missing("acwr_ewma", formula, window, cov, "no training load in the history")
    return _acwr_metric(
        "acwr_ewma", formula, window, cov, acute, chronic,
        {"acute_ewma": acute, "chronic_ewma": chronic},
    )  # fmt: skip


def tsb_band(tsb: float) -> str:
    if tsb > 25:
        return "above +25: very fresh, fitness may be fading"
    if tsb > 5:
        return "+5 to +25: fresh, ready to race"
    if tsb >= -10:
        return "-10 to +5: neutral"
    if tsb >= -30:
        return "-30 to -10: productive training fatigue"
    return "below -30: heavy fatigue, overreaching risk"


def fitness_fatigue(series: Series) -> tuple[Metric, Metric, Metric]:
    """CTL (42 d), ATL (7 d) and TSB, k = 1/tau (TrainingPeaks convention)."""
    loads = series.loads()
    ctl_series = ewma(loads, 1.0 / 42.0)
    atl_series = ewma(loads, 1.0 / 7.0)
    window = "all history, time constant 42 days (CTL) / 7 days (ATL)"
    cov42 = _coverage(series, 42, CTL_MIN_DAYS)
    cov7 = _coverage(series, 7, ATL_MIN_DAYS)
    f_ctl = "CTL (fitness): CTL_t = CTL_t-1 + (load_t - CTL_t-1)/42, k = 1/tau (TrainingPeaks)"
    f_atl = "ATL (fatigue): ATL_t = ATL_t-1 + (load_t - ATL_t-1)/7, k = 1/tau (TrainingPeaks)"
    f_tsb = "TSB (form) = CTL - ATL of the previous day"
    if series.history_days < CTL_MIN_DAYS:
        ctl = _missing("ctl", f_ctl, window, cov42, _history_missing(series, CTL_MIN_DAYS))
        tsb = _missing("tsb", f_tsb, window, cov42, _history_missing(series, CTL_MIN_DAYS))
    else:
        ctl = Metric(
            name="ctl",
            status=MetricStatus.OK,
            value=ctl_series[-1],
            formula=f_ctl,
            window=window,
            coverage=cov42,
        )
        yesterday = ctl_series[-2] - atl_series[-2]
        tsb = Metric(
            name="tsb",
            status=MetricStatus.OK,
            value=yesterday,
            formula=f_tsb,
            window="CTL and ATL at the end of the previous day",
            coverage=cov42,
            band=tsb_band(yesterday),
            details={"ctl_yesterday": ctl_series[-2], "atl_yesterday": atl_series[-2]},
        )
    if series.history_days < ATL_MIN_DAYS:
        atl = _missing("atl", f_atl, window, cov7, _history_missing(series, ATL_MIN_DAYS))
    else:
        atl = Metric(
            name="atl",
            status=MetricStatus.OK,
            value=atl_series[-1],
            formula=f_atl,
            window=window,
            coverage=cov7,
        )
    return ctl, atl, tsb


def monotony_strain(series: Series) -> tuple[Metric, Metric]:
    f_mono = "Foster monotony = mean / population standard deviation of the last 7 daily loads"
    f_strain = "Foster strain = weekly load (sum of the last 7 days) x monotony"
    window = "last 7 days, rest days = 0"
    cov = _coverage(series, 7, MONOTONY_MIN_DAYS)
    missing: str | None = None
    if series.history_days < MONOTONY_MIN_DAYS:
        missing = _history_missing(series, MONOTONY_MIN_DAYS)
    else:
        week = series.loads()[-7:]
        mean = sum(week) / 7.0
        sd = math.sqrt(sum((x - mean) ** 2 for x in week) / 7.0)
        if mean == 0:
            missing = "no runs in the last 7 days"
        elif sd == 0:
            missing = "identical load on all 7 days: standard deviation 0, monotony undefined"
    if missing is not None:
        return (
            _missing("monotony", f_mono, window, cov, missing),
            _missing("strain", f_strain, window, cov, missing),
        )
    mono = mean / sd
    if mono > 2.0:
        band = "above 2.0: high monotony, vary hard and easy days (Foster)"
    elif mono > 1.5:
        band = "1.5-2.0: caution, little variation between days"
    else:
        band = "up to 1.5: good variation between days"
    weekly = sum(week)
    return (
        Metric(
            name="monotony",
            status=MetricStatus.OK,
            value=mono,
            formula=f_mono,
            window=window,
            coverage=cov,
            band=band,
            details={"mean_daily_load": mean, "sd_daily_load": sd},
        ),
        Metric(
            name="strain",
            status=MetricStatus.OK,
            value=weekly * mono,
            formula=f_strain,
            window=window,
            coverage=cov,
            details={"weekly_load": weekly},
        ),
    )


# -- weeks, streaks, time of day ---------------------------------------------------------------
def weekly_trend(series: Series, week_start: str, weeks: int = TREND_WEEKS) -> list[WeekTotal]:
    """The last `weeks` local weeks ending with the week containing `at`, oldest first."""
    current = week_start_of(series.at, week_start)
    out: list[WeekTotal] = []
    previous_distance: float | None = None
    for i in range(weeks, -1, -1):  # one extra week before the first, for its change
        ws = current - timedelta(days=7 * i)
        days = [series.day(ws + timedelta(days=j)) for j in range(7)]
        distance = sum(d.distance_m for d in days)
        longest = max(d.longest_m for d in days)
        change = None
        if previous_distance:
            change = (distance - previous_distance) / previous_distance
        if i < weeks:
            out.append(
                WeekTotal(
                    week_start=ws,
                    distance_m=distance,
                    runs=sum(d.runs for d in days),
                    load=sum(d.load for d in days),
                    longest_run_m=longest,
                    long_run_share=longest / distance if distance else None,
                    change=change,
                    partial=ws + timedelta(days=6) > series.at,
                )
            )
        previous_distance = distance
    return out


def _last_complete(weeks: Sequence[WeekTotal]) -> int:
    return len(weeks) - 1 if not weeks[-1].partial else len(weeks) - 2


def week_over_week(series: Series, weeks: Sequence[WeekTotal]) -> Metric:
    formula = "week-over-week distance change = (this week - last week) / last week"
    idx = _last_complete(weeks)
    week = weeks[idx]
    window = f"complete local week starting {week.week_start.isoformat()} vs the week before"
    cov = Coverage(
        window_start=week.week_start - timedelta(days=7),
        window_end=week.week_start + timedelta(days=6),
        history_days=min(series.history_days, 14),
        required_days=14,
        runs=week.runs + (weeks[idx - 1].runs if idx > 0 else 0),
    )
    if week.change is None:
        return _missing(
            "week_over_week",
            formula,
            window,
            cov,
            "no distance in the week before the last complete week",
            unit="ratio",
        )
    change = week.change
    if change > 0.15:
        band = "more than +15%: high injury risk (10%-rule heuristic)"
    elif change > 0.10:
        band = "+10% to +15%: moderate risk"
    elif change < -0.10:
        band = "a decrease of more than 10%: recovery or reduced training"
    else:
        band = "within +/-10%: steady"
    return Metric(
        name="week_over_week",
        status=MetricStatus.OK,
        value=change,
        unit="ratio",
        formula=formula,
        window=window,
        coverage=cov,
        band=band,
        details={"this_week_m": week.distance_m, "last_week_m": weeks[idx - 1].distance_m},
    )


def long_run_share(series: Series, weeks: Sequence[WeekTotal]) -> Metric:
    formula = "long-run share = longest run / weekly distance"
    week = weeks[_last_complete(weeks)]
    window = f"complete local week starting {week.week_start.isoformat()}"
    cov = Coverage(
        window_start=week.week_start,
        window_end=week.week_start + timedelta(days=6),
        history_days=min(series.history_days, 7),
        required_days=7,
        runs=week.runs,
    )
    if week.long_run_share is None:
        return _missing(
            "long_run_share", formula, window, cov, "no runs in that week", unit="ratio"
        )
    share = week.long_run_share
    band = (
        "above 0.5: one run carries most of the week (unbalanced)"
        if share > 0.5
        else "0.5 or less: balanced week"
    )
    return Metric(
        name="long_run_share",
        status=MetricStatus.OK,
        value=share,
        unit="ratio",
        formula=formula,
        window=window,
        coverage=cov,
        band=band,
        details={"longest_run_m": week.longest_run_m, "week_m": week.distance_m},
    )


def streaks(series: Series, window_days: int = STREAK_WINDOW_DAYS) -> Streaks:
    """Streaks inside the window (clipped to history). The current streak ends at `at`, or at
    the day before when `at` has no run yet (the day is not over)."""
    days = series.days[-window_days:]
    running = [d.runs > 0 for d in days]
    longest = current = 0
    for ran in running:
        current = current + 1 if ran else 0
        longest = max(longest, current)
    tail = running if (running and running[-1]) else running[:-1]
    current = 0
    for ran in reversed(tail):
        if not ran:
            break
        current += 1
    run_days = sum(running)
    return Streaks(
        window_days=len(days),
        current_streak_days=current,
        longest_streak_days=longest,
        rest_days=len(days) - run_days,
        running_days=run_days,
    )


def _time_bucket(minute: int) -> str:
    hour = minute // 60
    if hour < 6:
        return "early_morning"
    if hour < 10:
        return "morning"
    if hour < 14:
        return "midday"
    if hour < 18:
        return "afternoon"
    return "evening"


def time_of_day(runs: Sequence[ScoredRun], at: date, window_days: int = 90) -> TimeOfDay:
    start = at - timedelta(days=window_days - 1)
    minutes = [
        r.sample.start_minute
        for r in runs
        if start <= r.sample.day <= at and r.sample.start_minute is not None
    ]
    counts = Counter(_time_bucket(m) for m in minutes)
    n = len(minutes)
    shares = (
        {b: counts[b] / n for b in ("early_morning", "morning", "midday", "afternoon", "evening")}
        if n
        else {}
    )
    preference = None
    if n >= TIME_OF_DAY_MIN_RUNS:
        preference = max(shares, key=lambda b: shares[b])
    return TimeOfDay(
        runs_with_start_time=n, shares=shares, preference=preference, window_days=window_days
    )


def training_load(
    athlete_id: str,
    runs: Sequence[ScoredRun],
    at: date,
    *,
    week_start: str = "monday",
    timezone: str = "UTC",
) -> TrainingLoad:
    series = daily_series(runs, at)
    weeks = weekly_trend(series, week_start)
    ctl, atl, tsb = fitness_fatigue(series)
    mono, strain = monotony_strain(series)
    methods = Counter(r.method for r in runs if r.sample.day <= at)
    note = (
        "load per run: Banister TRIMP when average HR, sex, resting and max HR are known; "
        "else session RPE (minutes x effort 1-10, Foster); else minutes. Rest days = 0."
    )
    if len(methods) > 1:
        note += " Methods are mixed, so loads are on different scales: compare ratios, not totals."
    return TrainingLoad(
        athlete_id=athlete_id,
        at=at,
        timezone=timezone,
        week_start=week_start,
        load_methods=dict(methods),
        load_note=note,
        weekly_trend=weeks,
        week_over_week=week_over_week(series, weeks),
        acwr_rolling=acwr_rolling(series),
        acwr_ewma=acwr_ewma(series),
        ctl=ctl,
        atl=atl,
        tsb=tsb,
        monotony=mono,
        strain=strain,
        long_run_share=long_run_share(series, weeks),
        streaks=streaks(series),
        time_of_day=time_of_day(runs, at),
    )


# -- race predictions -----------------------------------------------------------------------------
def vdot_of(distance_m: float, duration_s: float) -> float:
    """Daniels/Gilbert VDOT of a performance (v in m/min, t in minutes)."""
    t = duration_s / 60.0
    v = distance_m / t
    vo2 = -4.60 + 0.182258 * v + 0.000104 * v * v
    pct = 0.8 + 0.1894393 * math.exp(-0.012778 * t) + 0.2989558 * math.exp(-0.1932605 * t)
    return vo2 / pct


def vdot_time(vdot: float, distance_m: float) -> float:
    """Seconds to run `distance_m` at `vdot`: solves vdot_of(d, t) = vdot by bisection."""
    lo, hi = distance_m / 1000.0 * 60.0, distance_m / 50.0 * 60.0  # 60 km/h .. 3 km/h
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if vdot_of(distance_m, mid) > vdot:
            lo = mid  # too fast: more time
        else:
            hi = mid
        if hi - lo < 1e-6:
            break
    return (lo + hi) / 2.0


def riegel_time(t1_s: float, d1_m: float, d2_m: float) -> float:
    return t1_s * math.pow(d2_m / d1_m, 1.06)


def _effort_kind(sample: RunSample) -> str:
    if sample.workout_type == "race":
        return "race"
    if sample.workout_type in HARD_WORKOUTS or (sample.perceived_effort or 0) >= 7:
        return "hard"
    return "any"


def best_efforts(
    runs: Sequence[ScoredRun], at: date, window_days: int = PREDICTION_WINDOW_DAYS, top: int = 3
) -> tuple[list[Effort], str]:
    """Best efforts by VDOT in the window: races and hard runs if any, else any run."""
    start = at - timedelta(days=window_days - 1)
    candidates: list[Effort] = []
    for r in runs:
        s = r.sample
        if not (start <= s.day <= at) or s.distance_m < PREDICTION_MIN_DISTANCE_M:
            continue
        if s.duration_s <= 0 or s.distance_m > 50000:
            continue
        v = vdot_of(s.distance_m, s.duration_s)
        if not 15.0 <= v <= 90.0:  # outside human range: a data-entry error, not an effort
            continue
        candidates.append(
            Effort(
                run_id=s.run_id,
                date=s.day,
                distance_m=s.distance_m,
                duration_s=s.duration_s,
                kind=_effort_kind(s),  # type: ignore[arg-type]
                vdot=v,
            )
        )
    hard = [e for e in candidates if e.kind in ("race", "hard")]
    if hard:
        basis = (
            f"races and hard runs (race, tempo, interval or effort >= 7) of the last "
            f"{window_days} days"
        )
        pool = hard
    else:
        basis = (
            f"all runs of the last {window_days} days (no races or hard runs recorded: "
            "easy runs understate race fitness, so these predictions are conservative)"
        )
        pool = candidates
    pool.sort(key=lambda e: (-e.vdot, e.date.toordinal() * -1, e.run_id))
    return pool[:top], basis


def predict(effort: Effort, distance_m: float, label: str) -> RacePrediction:
    t_riegel = riegel_time(effort.duration_s, effort.distance_m, distance_m)
    t_vdot = vdot_time(effort.vdot, distance_m)
    return RacePrediction(
        distance_m=distance_m,
        label=label,
        riegel=PredictionValue(
            formula="Riegel: T2 = T1 x (D2/D1)^1.06 (valid 1500 m to marathon)",
            time_s=t_riegel,
            time=format_duration(round(t_riegel)),
            pace_s_per_km=t_riegel / distance_m * 1000,
            from_run_id=effort.run_id,
        ),
        vdot=PredictionValue(
            formula=f"Daniels VDOT {effort.vdot:.1f}, time solved numerically",
            time_s=t_vdot,
            time=format_duration(round(t_vdot)),
            pace_s_per_km=t_vdot / distance_m * 1000,
            from_run_id=effort.run_id,
        ),
    )


def predictions(
    athlete_id: str,
    runs: Sequence[ScoredRun],
    at: date,
    distances: Sequence[tuple[str, float]] = STANDARD_RACES,
    window_days: int = PREDICTION_WINDOW_DAYS,
) -> Predictions:
    efforts, basis = best_efforts(runs, at, window_days)
    if not efforts:
        return Predictions(
            athlete_id=athlete_id,
            at=at,
            window_days=window_days,
            status=MetricStatus.NOT_ENOUGH_DATA,
            effort_basis=basis,
            missing=(
                f"no run of at least {PREDICTION_MIN_DISTANCE_M / 1000:g} km with distance "
                f"and duration in the last {window_days} days"
            ),
        )
    best = efforts[0]
    return Predictions(
        athlete_id=athlete_id,
        at=at,
        window_days=window_days,
        status=MetricStatus.OK,
        effort_basis=basis,
        vdot=best.vdot,
        efforts=efforts,
        predictions=[predict(best, d, label) for label, d in distances],
    )


# -- patterns and motivation -------------------------------------------------------------------
def _confidence(have: float, need: float) -> float:
    return round(max(0.0, min(1.0, have / need)), 2)


def patterns(
    athlete_id: str,
    runs: Sequence[ScoredRun],
    at: date,
    load: TrainingLoad,
    window_days: int = 90,
) -> Patterns:
    """Achievements, patterns and concerns over the window, each with its evidence."""
    start = at - timedelta(days=window_days - 1)
    inside = [r for r in runs if start <= r.sample.day <= at]
    before = [r for r in runs if r.sample.day < start]
    out: list[Pattern] = []
    n = len(inside)
    weeks_in_window = window_days / 7.0

    def metric_concern(m: Metric, threshold: float, key: str, text: str, rec: str) -> None:
        if m.status is MetricStatus.OK and m.value is not None and m.value >= threshold:
            out.append(
                Pattern(
                    key=key,
                    category=PatternCategory.CONCERN,
                    text=text.format(v=m.value),
                    evidence={
                        "value": round(m.value, 3),
                        "formula": m.formula,
                        "window": m.window,
                        "band": m.band,
                        **m.details,
                    },
                    confidence=_confidence(m.coverage.history_days, m.coverage.required_days * 1.5),
                    recommendation=rec,
                )
            )

    # concerns
    metric_concern(
        load.acwr_rolling,
        1.5,
        "acwr_high",
        "Acute:chronic workload ratio is {v:.2f}: this week's load is well above the "
        "last four weeks' average.",
        "Hold or reduce next week's load instead of adding more; add an easy day.",
    )
    metric_concern(
        load.week_over_week,
        0.15,
        "weekly_increase_high",
        "Weekly distance rose {v:.0%} over the week before (more than 15%).",
        "Keep the next week at about this distance before increasing again.",
    )
    metric_concern(
        load.monotony,
        2.0,
        "monotony_high",
        "Training monotony is {v:.2f}: the days look alike in load.",
        "Alternate hard and easy days and keep at least one rest day a week.",
    )
    metric_concern(
        load.long_run_share,
        0.5001,
        "long_run_unbalanced",
        "The longest run was {v:.0%} of last week's distance.",
        "Spread the distance over more runs, or shorten the long run.",
    )
    tsb = load.tsb
    if tsb.status is MetricStatus.OK and tsb.value is not None and tsb.value < -30:
        out.append(
            Pattern(
                key="fatigue_high",
                category=PatternCategory.CONCERN,
                text=f"Form (TSB) is {tsb.value:.0f}: fatigue is far above fitness.",
                evidence={"value": round(tsb.value, 1), "formula": tsb.formula, "band": tsb.band},
                confidence=_confidence(tsb.coverage.history_days, 63),
                recommendation="Plan two or three easy or rest days.",
            )
        )
    if load.streaks.current_streak_days >= 14:
        out.append(
            Pattern(
                key="no_rest",
                category=PatternCategory.CONCERN,
                text=f"{load.streaks.current_streak_days} running days in a row without rest.",
                evidence={"current_streak_days": load.streaks.current_streak_days},
                confidence=1.0,
                recommendation="Take a rest day this week.",
            )
        )
    last_day = max((r.sample.day for r in runs if r.sample.day <= at), default=None)
    if last_day is not None and (at - last_day).days >= 10:
        out.append(
            Pattern(
                key="inactive",
                category=PatternCategory.CONCERN,
                text=f"No run for {(at - last_day).days} days.",
                evidence={"last_run": last_day.isoformat(), "days": (at - last_day).days},
                confidence=1.0,
                recommendation="Restart with short easy runs before returning to the usual load.",
            )
        )

    # achievements
    if inside and before:
        longest = max(inside, key=lambda r: r.sample.distance_m)
        previous = max(r.sample.distance_m for r in before)
        if longest.sample.distance_m > previous:
            out.append(
                Pattern(
                    key="longest_run",
                    category=PatternCategory.ACHIEVEMENT,
                    text=(
                        f"Longest run ever: {longest.sample.distance_m / 1000:.1f} km on "
                        f"{longest.sample.day.isoformat()}."
                    ),
                    evidence={
                        "run_id": longest.sample.run_id,
                        "distance_m": longest.sample.distance_m,
                        "previous_longest_m": previous,
                    },
                    confidence=1.0,
                    recommendation=None,
                )
            )
        eff_in, _ = best_efforts(inside, at, window_days, top=1)
        eff_before, _ = best_efforts(before, start - timedelta(days=1), 365, top=1)
        if eff_in and eff_before and eff_in[0].vdot > eff_before[0].vdot:
            out.append(
                Pattern(
                    key="best_effort",
                    category=PatternCategory.ACHIEVEMENT,
                    text=(
                        f"Best performance in a year: VDOT {eff_in[0].vdot:.1f} "
                        f"(was {eff_before[0].vdot:.1f})."
                    ),
                    evidence={
                        "run_id": eff_in[0].run_id,
                        "vdot": round(eff_in[0].vdot, 2),
                        "previous_vdot": round(eff_before[0].vdot, 2),
                    },
                    confidence=0.8,
                    recommendation=None,
                )
            )
    complete = [w for w in load.weekly_trend if not w.partial]
    if complete:
        consistent = sum(1 for w in complete if w.runs >= 3)
        if consistent >= 0.8 * len(complete) and len(complete) >= 4:
            out.append(
                Pattern(
                    key="consistent",
                    category=PatternCategory.ACHIEVEMENT,
                    text=f"Ran 3 or more times in {consistent} of the last {len(complete)} weeks.",
                    evidence={"weeks_with_3_plus_runs": consistent, "weeks": len(complete)},
                    confidence=_confidence(len(complete), 8),
                    recommendation=None,
                )
            )

    # patterns
    tod = load.time_of_day
    if tod.preference is not None:
        share = tod.shares[tod.preference]
        out.append(
            Pattern(
                key="time_of_day",
                category=PatternCategory.PATTERN,
                text=f"Prefers {tod.preference.replace('_', ' ')} runs ({share:.0%} of runs).",
                evidence={
                    "shares": {k: round(v, 3) for k, v in tod.shares.items()},
                    "runs_with_start_time": tod.runs_with_start_time,
                },
                confidence=_confidence(tod.runs_with_start_time, 20),
                recommendation=None,
            )
        )
    if n:
        per_week = n / weeks_in_window
        out.append(
            Pattern(
                key="frequency",
                category=PatternCategory.PATTERN,
                text=f"Runs {per_week:.1f} times a week on average over {window_days} days.",
                evidence={
                    "runs": n,
                    "window_days": window_days,
                    "distance_m": sum(r.sample.distance_m for r in inside),
                },
                confidence=_confidence(n, 12),
                recommendation=None,
            )
        )
        weekday = Counter(
            WEEKDAYS[r.sample.day.weekday()] for r in inside if r.sample.workout_type == "long"
        )
        if weekday:
            day, count = weekday.most_common(1)[0]
            out.append(
                Pattern(
                    key="long_run_day",
                    category=PatternCategory.PATTERN,
                    text=f"Long runs usually on {day.capitalize()} ({count} of {weekday.total()}).",
                    evidence=dict(weekday),
                    confidence=_confidence(sum(weekday.values()), 8),
                    recommendation=None,
                )
            )
    return Patterns(
        athlete_id=athlete_id, at=at, window_days=window_days, runs_in_window=n, insights=out
    )


def motivational_context(
    athlete_id: str, runs: Sequence[ScoredRun], at: date, found: Patterns
) -> MotivationalContext:
    last_day = max((r.sample.day for r in runs if r.sample.day <= at), default=None)
    since = (at - last_day).days if last_day is not None else None
    concerns = [p for p in found.insights if p.category is PatternCategory.CONCERN]
    wins = [p for p in found.insights if p.category is PatternCategory.ACHIEVEMENT]
    tone: str
    if last_day is None:
        tone, focus = "welcoming", "log the first runs so that trends can be measured"
    elif since is not None and since >= 10:
        tone, focus = "re_engaging", "an easy restart without pressure"
    elif [p for p in concerns if p.key != "inactive"]:
        tone, focus = "cautious", "recovery and sustainable load"
    elif wins:
        tone, focus = "celebratory", "recognise recent progress and keep it sustainable"
    else:
        tone, focus = "encouraging", "steady, consistent training"
    ordered = [
        *concerns,
        *wins,
        *(p for p in found.insights if p.category is PatternCategory.PATTERN),
    ]
    points = [TalkingPoint(text=p.text, evidence={"key": p.key, **p.evidence}) for p in ordered[:5]]
    return MotivationalContext(
        athlete_id=athlete_id,
        at=at,
        tone=tone,  # type: ignore[arg-type]
        focus=focus,
        days_since_last_run=since,
        talking_points=points,
    )
