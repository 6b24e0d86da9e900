"""Golden fixtures for maratron_insights.science.

Expected values are computed here by hand from the definitions (closed forms and explicit
sums written out), never by calling the code under test. Tolerance: 1e-6 relative unless
stated (published tables: 1%).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, timedelta

import pytest
from maratron_contracts.insights import LoadMethod, MetricStatus, PatternCategory
from maratron_insights import science
from maratron_insights.science import HeartRateProfile, RunSample, ScoredRun

AT = date(2026, 10, 25)  # a Sunday
FIRST = date(2026, 8, 3)  # the Monday 83 days before: 12 full Monday-Sunday weeks
NO_HR = HeartRateProfile()


def approx(x: float, rel: float = 1e-6) -> object:
    return pytest.approx(x, rel=rel, abs=1e-9)


def scored(samples: list[RunSample], hr: HeartRateProfile = NO_HR) -> list[ScoredRun]:
    return [science.run_load(s, hr) for s in samples]


# -- fixtures -----------------------------------------------------------------------------------
# Steady runner, Monday..Sunday, every week for 12 weeks, all at 5:00/km, start 07:00, no HR, no
# effort -> load = minutes.   Mon 40' 8 km | Tue 50' 10 km | Wed 40' 8 km | Thu rest |
# Fri 30' 6 km | Sat 90' 18 km (long) | Sun rest.   Week: 250 load, 50 km.
STEADY_WEEK = [(40, 8), (50, 10), (40, 8), None, (30, 6), (90, 18), None]


def steady_runs() -> list[ScoredRun]:
    out = []
    for day in range(84):
        spec = STEADY_WEEK[day % 7]
        if spec is None:
            continue
        minutes, km = spec
        out.append(
            RunSample(
                run_id=f"s{day}",
                day=FIRST + timedelta(days=day),
                distance_m=km * 1000,
                duration_s=minutes * 60,
                start_minute=7 * 60,
                workout_type="long" if km == 18 else "easy",
            )
        )
    return scored(out)


# Spike runner: 11 weeks of Mon, Tue, Wed, Fri, Sat 30' 6 km (Thu and Sun rest: 150 load, 30 km),
# then week 12 every day: 60, 60, 60, 45, 60, 90, 45 minutes at 5:00/km (420 load, 84 km).
SPIKE_BASE = [30, 30, 30, 0, 30, 30, 0]
SPIKE_LAST = [60, 60, 60, 45, 60, 90, 45]


def spike_runs() -> list[ScoredRun]:
    out = []
    for day in range(84):
        minutes = SPIKE_BASE[day % 7] if day < 77 else SPIKE_LAST[day - 77]
        if minutes:
            out.append(
                RunSample(
                    run_id=f"p{day}",
                    day=FIRST + timedelta(days=day),
                    distance_m=minutes / 5 * 1000,
                    duration_s=minutes * 60,
                )
            )
    return scored(out)


# Sparse runner: three runs. AT-15 10 km in 55', AT-8 a 5 km race in 20:00, AT-1 10 km in 55'.
def sparse_runs() -> list[ScoredRun]:
    return scored(
        [
            RunSample("a", AT - timedelta(days=15), 10000, 55 * 60),
            RunSample("race", AT - timedelta(days=8), 5000, 20 * 60, workout_type="race"),
            RunSample("b", AT - timedelta(days=1), 10000, 55 * 60),
        ]
    )


# -- per-run load -------------------------------------------------------------------------------
def test_trimp_banister_male_and_female() -> None:
    # HRr = (150 - 50) / (190 - 50) = 100/140 = 0.7142857
    hrr = 100 / 140
    # male: 60 min * 0.7142857 * 0.64 * e^(1.92 * 0.7142857) = 27.428571 * e^1.3714286 = 108.0979
    male = 60 * hrr * 0.64 * math.exp(1.92 * hrr)
    assert male == approx(108.0979, rel=1e-4)
    # female: 60 * 0.7142857 * 0.86 * e^(1.67 * 0.7142857) = 36.857143 * e^1.1928571 = 121.4967
    female = 60 * hrr * 0.86 * math.exp(1.67 * hrr)
    assert female == approx(121.4967, rel=1e-4)
    run = RunSample("r", AT, 12000, 3600, avg_hr=150)
    m = science.run_load(run, HeartRateProfile("male", 50, 190))
    f = science.run_load(run, HeartRateProfile("female", 50, 190))
    assert (m.method, m.load) == (LoadMethod.TRIMP, approx(male))
    assert (f.method, f.load) == (LoadMethod.TRIMP, approx(female))


def test_load_falls_back_to_session_rpe_then_duration() -> None:
    # HR known but no resting HR in the profile -> not TRIMP; effort 6 x 45 min = 270.
    with_rpe = RunSample("r", AT, 9000, 45 * 60, avg_hr=150, perceived_effort=6)
    got = science.run_load(with_rpe, HeartRateProfile("male", None, 190))
    assert (got.method, got.load) == (LoadMethod.SESSION_RPE, 270.0)
    # Unknown sex -> no TRIMP constants -> duration: 45 min.
    plain = RunSample("r", AT, 9000, 45 * 60, avg_hr=150)
    got = science.run_load(plain, HeartRateProfile(None, 50, 190))
    assert (got.method, got.load) == (LoadMethod.DURATION, 45.0)


# -- steady runner ------------------------------------------------------------------------------
def test_steady_acwr_rolling_is_one() -> None:
    tl = science.training_load("a", steady_runs(), AT)
    # acute = 250/7, chronic = 4 * 250 / 28 = 250/7 -> exactly 1.0
    assert tl.acwr_rolling.status is MetricStatus.OK
    assert tl.acwr_rolling.value == approx(1.0)
    assert tl.acwr_rolling.details["acute_mean_load"] == approx(250 / 7)
    assert "sweet spot" in (tl.acwr_rolling.band or "")
    assert tl.load_methods == {"duration_minutes": 60}


def _periodic_ewma(lam: float, reversed_week: Sequence[float], terms: int) -> float:
    """lam * sum_{i<terms} (1-lam)^i x_{t-i} for a 7-periodic series (x given newest first),
    as the geometric closed form: lam * P(r) * (1 - r^terms) / (1 - r^7); needs terms % 7 == 0."""
    assert terms % 7 == 0
    r = 1 - lam
    p = sum(x * r**i for i, x in enumerate(reversed_week))
    return lam * p * (1 - r**terms) / (1 - r**7)


# The last day (AT, a Sunday) is a rest day; newest first its week reads
# Sun 0, Sat 90, Fri 30, Thu 0, Wed 40, Tue 50, Mon 40; the history is 84 days = 12 periods.
STEADY_NEWEST_FIRST = [0, 90, 30, 0, 40, 50, 40]
# Yesterday (Saturday) newest first: Sat 90, Fri 30, Thu 0, Wed 40, Tue 50, Mon 40, Sun 0
# (83 days; the 84th term would be the empty day before the first run, 0 as well).
STEADY_YESTERDAY_FIRST = [90, 30, 0, 40, 50, 40, 0]


def test_steady_ewma_acwr_ctl_atl_tsb() -> None:
    tl = science.training_load("a", steady_runs(), AT)
    acute = _periodic_ewma(2 / 8, STEADY_NEWEST_FIRST, 84)
    chronic = _periodic_ewma(2 / 29, STEADY_NEWEST_FIRST, 84)
    assert tl.acwr_ewma.value == approx(acute / chronic)
    ctl = _periodic_ewma(1 / 42, STEADY_NEWEST_FIRST, 84)
    atl = _periodic_ewma(1 / 7, STEADY_NEWEST_FIRST, 84)
    assert tl.ctl.value == approx(ctl)
    assert tl.atl.value == approx(atl)
    ctl_y = _periodic_ewma(1 / 42, STEADY_YESTERDAY_FIRST, 84)
    atl_y = _periodic_ewma(1 / 7, STEADY_YESTERDAY_FIRST, 84)
    assert tl.tsb.value == approx(ctl_y - atl_y)
    # Sanity of the closed form: a rest day multiplies yesterday's value by (1 - k).
    assert ctl == approx(ctl_y * (1 - 1 / 42))
    # Rough magnitudes: CTL after 12 weeks ~ 1 - e^(-84/42) = 86% of the 35.7 daily mean.
    assert 28 < ctl < 33


def test_steady_monotony_strain() -> None:
    tl = science.training_load("a", steady_runs(), AT)
    # last 7 loads 40, 50, 40, 0, 30, 90, 0: mean 250/7 = 35.714
    # sum x^2 = 1600 + 2500 + 1600 + 0 + 900 + 8100 + 0 = 14700
    # var = 14700/7 - (250/7)^2 = 2100 - 1275.510 = 824.490, sd = 28.7139
    mean = 250 / 7
    sd = math.sqrt(14700 / 7 - mean**2)
    assert tl.monotony.value == approx(mean / sd)  # 1.2438
    assert tl.monotony.value == approx(1.2438, rel=1e-4)
    assert tl.strain.value == approx(250 * mean / sd)  # 310.95


def test_steady_weeks_streaks_long_run_time_of_day() -> None:
    tl = science.training_load("a", steady_runs(), AT)
    assert len(tl.weekly_trend) == 12
    assert [w.week_start for w in tl.weekly_trend] == [
        FIRST + timedelta(days=7 * i) for i in range(12)
    ]
    assert all(w.distance_m == 50000 and w.runs == 5 for w in tl.weekly_trend)
    assert tl.weekly_trend[0].change is None  # the week before the first has no distance
    assert tl.week_over_week.value == approx(0.0)
    assert tl.long_run_share.value == approx(18 / 50)  # 0.36
    # Streaks over the 84 days: Mon-Wed (3) is the longest; AT is a rest day, so the current
    # streak ends Saturday: Fri, Sat = 2. Rest days: Thu and Sun x 12 weeks = 24.
    assert tl.streaks.window_days == 84
    assert tl.streaks.longest_streak_days == 3
    assert tl.streaks.current_streak_days == 2
    assert tl.streaks.rest_days == 24
    assert tl.streaks.running_days == 60
    # Time of day: all 90-day-window runs (here all 60) start at 07:00 -> morning.
    assert tl.time_of_day.runs_with_start_time == 60
    assert tl.time_of_day.preference == "morning"


def test_steady_week_start_sunday() -> None:
    tl = science.training_load("a", steady_runs(), AT, week_start="sunday")
    last = tl.weekly_trend[-1]
    assert last.week_start == AT and last.partial  # AT is a Sunday: week just started
    assert last.distance_m == 0
    # The last complete Sunday-Saturday week also holds 50 km.
    assert tl.weekly_trend[-2].distance_m == 50000 and not tl.weekly_trend[-2].partial
    assert tl.long_run_share.value == approx(0.36)


def test_steady_predictions_use_best_vdot_of_all_runs() -> None:
    p = science.predictions("a", steady_runs(), AT)
    # No races or hard runs: basis is all runs. At 5:00/km the 18 km in 90' has the best VDOT:
    # v = 200 m/min; VO2 = -4.60 + 0.182258*200 + 0.000104*200^2 = -4.60 + 36.4516 + 4.16 = 36.0116
    # %max = 0.8 + 0.1894393 e^(-0.012778*90) + 0.2989558 e^(-0.1932605*90)
    #      = 0.8 + 0.1894393 * 0.3166368 + 0.2989558 * 2.8e-8 = 0.8599834
    vo2 = -4.60 + 0.182258 * 200 + 0.000104 * 200**2
    pct = 0.8 + 0.1894393 * math.exp(-0.012778 * 90) + 0.2989558 * math.exp(-0.1932605 * 90)
    assert vo2 / pct == approx(41.8746, rel=1e-4)
    assert p.status is MetricStatus.OK and "all runs" in p.effort_basis
    assert p.efforts[0].distance_m == 18000
    assert p.efforts[0].date == AT - timedelta(days=1)  # the most recent of equal efforts
    assert p.vdot == approx(vo2 / pct)
    marathon = next(x for x in p.predictions if x.label == "marathon")
    # Riegel: 5400 s * (42195/18000)^1.06 = 5400 * e^(1.06 * ln 2.344167) = 5400 * 2.467118
    assert marathon.riegel.time_s == approx(5400 * (42195 / 18000) ** 1.06)
    assert marathon.riegel.time_s == approx(13322.4, rel=1e-4)


# -- spike runner -------------------------------------------------------------------------------
def test_spike_acwr_week_over_week_monotony() -> None:
    tl = science.training_load("a", spike_runs(), AT)
    # acute = 420/7 = 60; chronic = (3*150 + 420)/28 = 870/28 = 31.0714 -> 1.93103
    assert tl.acwr_rolling.value == approx(60 / (870 / 28))
    assert "high" in (tl.acwr_rolling.band or "")
    # distance: 30 km -> 84 km: (84 - 30)/30 = 1.8
    assert tl.week_over_week.value == approx(1.8)
    # last 7: 60, 60, 60, 45, 60, 90, 45; mean 60; sum x^2 = 4*3600 + 2*2025 + 8100 = 26550
    # var = 26550/7 - 3600 = 192.857; sd = 13.8873; monotony = 4.32049; strain = 420 * 4.32049
    sd = math.sqrt(26550 / 7 - 3600)
    assert tl.monotony.value == approx(60 / sd)
    assert tl.strain.value == approx(420 * 60 / sd)
    assert tl.streaks.current_streak_days == 7  # Sunday of week 11 was rest
    assert tl.streaks.longest_streak_days == 7


def test_spike_ewma_ctl_atl() -> None:
    tl = science.training_load("a", spike_runs(), AT)
    base_newest_first = [0, 30, 30, 0, 30, 30, 30]  # Sun .. Mon of a base week
    last = SPIKE_LAST

    def value(lam: float) -> float:
        # 11 periodic weeks (77 terms), then 7 explicit steps, newest last:
        # E_84 = r^7 E_77 + lam * sum_{j=0..6} r^j x_{83-j}
        r = 1 - lam
        e77 = _periodic_ewma(lam, base_newest_first, 77)
        return r**7 * e77 + lam * sum(r**j * x for j, x in enumerate(reversed(last)))

    assert tl.acwr_ewma.value == approx(value(2 / 8) / value(2 / 29))
    assert tl.ctl.value == approx(value(1 / 42))
    assert tl.atl.value == approx(value(1 / 7))
    found = science.patterns("a", spike_runs(), AT, tl)
    keys = {p.key for p in found.insights if p.category is PatternCategory.CONCERN}
    assert {"acwr_high", "weekly_increase_high", "monotony_high"} <= keys
    mood = science.motivational_context("a", spike_runs(), AT, found)
    assert mood.tone == "cautious"


# -- sparse runner ------------------------------------------------------------------------------
def test_sparse_says_not_enough_data() -> None:
    tl = science.training_load("a", sparse_runs(), AT)
    # history = AT-15 .. AT = 16 days: ACWR needs 28, CTL/TSB need 42
    for m in (tl.acwr_rolling, tl.acwr_ewma, tl.ctl, tl.tsb):
        assert m.status is MetricStatus.NOT_ENOUGH_DATA and m.value is None
        assert m.missing is not None and "has 16" in m.missing
    assert tl.atl.status is MetricStatus.OK
    # monotony: one 55 load and six zeros: mean 55/7, sd 55*sqrt(6)/7 -> 1/sqrt(6) = 0.408248
    assert tl.monotony.value == approx(1 / math.sqrt(6))
    assert tl.strain.value == approx(55 / math.sqrt(6))
    # weeks: this week 10 km, last week the 5 km race -> +100%
    assert tl.week_over_week.value == approx(1.0)
    assert tl.streaks.window_days == 16
    assert (tl.streaks.running_days, tl.streaks.rest_days) == (3, 13)
    assert tl.streaks.current_streak_days == 1
    assert tl.time_of_day.preference is None  # no start times


def test_sparse_predictions_from_the_race() -> None:
    p = science.predictions("a", sparse_runs(), AT)
    assert "races" in p.effort_basis
    assert [e.run_id for e in p.efforts] == ["race"]
    # 5000 m in 20:00: v = 250; VO2 = -4.60 + 45.5645 + 6.5 = 47.4645
    # %max = 0.8 + 0.1894393 e^-0.25556 + 0.2989558 e^-3.865210 = 0.8 + 0.1467177 + 0.0062645
    #      = 0.9529822 -> VDOT = 49.8063
    assert p.vdot == approx(49.8063, rel=1e-4)
    ten = next(x for x in p.predictions if x.label == "10k")
    # Riegel: 1200 * 2^1.06 = 1200 * 2.0849315 = 2501.92 s
    assert ten.riegel.time_s == approx(1200 * 2**1.06)
    # VDOT: the solved time must give the same VDOT back (checked with the formula by hand)
    t = ten.vdot.time_s / 60
    v = 10000 / t
    vo2 = -4.60 + 0.182258 * v + 0.000104 * v * v
    pct = 0.8 + 0.1894393 * math.exp(-0.012778 * t) + 0.2989558 * math.exp(-0.1932605 * t)
    assert vo2 / pct == approx(49.8063, rel=1e-4)


def test_vdot_matches_daniels_table() -> None:
    # Daniels' Running Formula, VDOT 50: 5K 19:57, 10K 41:21, half 1:31:35, marathon 3:10:49.
    table = {
        5000: 19 * 60 + 57,
        10000: 41 * 60 + 21,
        21097.5: 91 * 60 + 35,
        42195: 3 * 3600 + 10 * 60 + 49,
    }
    for distance, seconds in table.items():
        assert science.vdot_time(50.0, distance) == pytest.approx(seconds, rel=0.01)
    assert science.vdot_of(5000, 19 * 60 + 57) == pytest.approx(50.0, rel=0.01)


def test_no_runs_at_all() -> None:
    tl = science.training_load("a", [], AT)
    assert tl.acwr_rolling.missing == "no runs recorded yet"
    assert tl.monotony.status is MetricStatus.NOT_ENOUGH_DATA
    assert tl.week_over_week.status is MetricStatus.NOT_ENOUGH_DATA
    p = science.predictions("a", [], AT)
    assert p.status is MetricStatus.NOT_ENOUGH_DATA and p.missing
    found = science.patterns("a", [], AT, tl)
    assert science.motivational_context("a", [], AT, found).tone == "welcoming"


def test_runs_after_at_are_ignored() -> None:
    runs = [*sparse_runs(), *scored([RunSample("future", AT + timedelta(days=1), 42195, 9000)])]
    assert science.training_load("a", runs, AT) == science.training_load("a", sparse_runs(), AT)


def test_a_week_without_runs_after_a_week_with_runs() -> None:
    # Steady runner who stopped: nothing in the last complete week -> change = (0 - 50)/50 = -1
    runs = [r for r in steady_runs() if r.sample.day < AT - timedelta(days=6)]
    tl = science.training_load("a", runs, AT)
    assert tl.week_over_week.value == approx(-1.0)
    assert tl.week_over_week.details == {"this_week_m": 0.0, "last_week_m": 50000.0}
    assert tl.long_run_share.status is MetricStatus.NOT_ENOUGH_DATA
    assert tl.monotony.missing == "no runs in the last 7 days"
