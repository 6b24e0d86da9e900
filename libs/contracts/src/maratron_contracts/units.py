"""Units, durations, paces, local dates and summary periods (pure).

Shared by the gateway (to validate tool input early) and the runs service (to decide). Distances
are stored as integer metres, durations as integer seconds, so sums are exact.
Every parse error is an `InvalidValue`: a `ValidationFailed` (typed, crosses process boundaries)
that is also a `ValueError` (so pydantic validators turn it into a field error).
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from maratron_contracts.errors import ValidationFailed

Unit = Literal["km", "mi"]
WeekStart = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
PeriodKind = Literal["week", "month", "year", "days"]

UNITS: tuple[str, ...] = get_args(Unit)
WEEKDAYS: tuple[str, ...] = get_args(WeekStart)
METRES_PER_UNIT: dict[str, float] = {"km": 1000.0, "mi": 1609.344}
FASTEST_PACE_S_PER_KM = 150  # 2:30/km: faster than the men's marathon world record pace
SLOWEST_PACE_S_PER_KM = 1800  # 30:00/km: slower than walking
MAX_PERIOD_DAYS = 3650


class InvalidValue(ValidationFailed, ValueError):
    """A value that cannot be parsed; the message says what was wrong and how to fix it."""


# -- distances ----------------------------------------------------------------------------------
def check_unit(unit: str) -> Unit:
    if unit not in UNITS:
        raise InvalidValue(f"unit {unit!r} is not supported: use 'km' or 'mi'")
    return unit  # type: ignore[return-value]


def to_metres(value: float, unit: str) -> int:
    """A distance in km or mi as whole metres (rounded half to even)."""
    factor = METRES_PER_UNIT[check_unit(unit)]
    if not math.isfinite(value) or value < 0:
        raise InvalidValue(f"distance {value!r} must be a finite number >= 0 ({unit})")
    return round(value * factor)


def from_metres(metres: float, unit: str, digits: int = 3) -> float:
    """Metres expressed in km or mi, rounded to `digits` decimals (for display)."""
    return round(metres / METRES_PER_UNIT[check_unit(unit)], digits)


# -- durations ----------------------------------------------------------------------------------
_CLOCK_RE = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{1,2})$")


def parse_duration(value: str | int | float) -> int:
    """`HH:MM:SS`, `MM:SS` or seconds (number or digits) -> whole seconds (> 0 not checked).

    In `MM:SS` the minutes may exceed 59 (`75:30` is 1 h 15 min 30 s); seconds never may.
    """
    hint = "use HH:MM:SS, MM:SS or a number of seconds, e.g. '1:02:30', '45:10' or 2710"
    if isinstance(value, bool):
        raise InvalidValue(f"duration {value!r} is not a duration: {hint}")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0 or value != int(value):
            raise InvalidValue(f"duration {value!r} must be a whole number of seconds >= 0: {hint}")
        return int(value)
    text = value.strip()
    if text.isdigit():
        return int(text)
    match = _CLOCK_RE.match(text)
    if match is None:
        raise InvalidValue(f"duration {value!r} is not understood: {hint}")
    hours_s, minutes_s, seconds_s = match.groups()
    hours, minutes, seconds = int(hours_s or 0), int(minutes_s), int(seconds_s)
    if seconds > 59 or (hours_s is not None and minutes > 59):
        raise InvalidValue(f"duration {value!r} has minutes or seconds above 59: {hint}")
    return hours * 3600 + minutes * 60 + seconds


def format_duration(seconds: int) -> str:
    """Seconds as `H:MM:SS` (one hour or more) or `M:SS`."""
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


# -- pace ---------------------------------------------------------------------------------------
def pace_seconds(distance_m: int, duration_s: int, unit: str) -> float | None:
    """Seconds per km or per mile; None for a zero distance."""
    if distance_m <= 0:
        return None
    return duration_s / (distance_m / METRES_PER_UNIT[check_unit(unit)])


def format_pace(seconds_per_unit: float | None) -> str | None:
    """Pace as `M:SS` (rounded to the second); None stays None."""
    if seconds_per_unit is None:
        return None
    total = round(seconds_per_unit)
    return f"{total // 60}:{total % 60:02d}"


def check_pace(distance_m: int, duration_s: int) -> None:
    """Refuse a pace faster than 2:30/km or slower than 30:00/km (a typo in distance or time)."""
    pace = pace_seconds(distance_m, duration_s, "km")
    if pace is None:
        return
    shown = format_pace(pace)
    if pace < FASTEST_PACE_S_PER_KM:
        raise InvalidValue(
            f"pace {shown}/km is faster than 2:30/km: check the distance (and its unit) "
            "and the duration"
        )
    if pace > SLOWEST_PACE_S_PER_KM:
        raise InvalidValue(
            f"pace {shown}/km is slower than 30:00/km: check the distance (and its unit) "
            "and the duration"
        )


# -- time zones and local dates -----------------------------------------------------------------
def check_timezone(name: str) -> str:
    """An IANA time zone name, e.g. `Europe/Paris` or `UTC`."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidValue(
            f"time zone {name!r} is unknown: use an IANA name such as 'Europe/Paris', "
            "'America/New_York' or 'UTC'"
        ) from None
    return name


def check_week_start(day: str) -> WeekStart:
    lowered = day.strip().lower()
    if lowered not in WEEKDAYS:
        raise InvalidValue(f"week_start {day!r} must be a weekday name, e.g. 'monday' or 'sunday'")
    return lowered  # type: ignore[return-value]


def local_today(timezone: str, now: dt.datetime) -> dt.date:
    """The athlete's local date at the (aware) instant `now`."""
    return now.astimezone(ZoneInfo(timezone)).date()


_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


def parse_time_of_day(value: str | dt.time) -> dt.time:
    """`H:MM`, `HH:MM` or `HH:MM:SS` (24 h) -> time (no time zone: the athlete's local clock)."""
    if isinstance(value, dt.time):
        return value.replace(microsecond=0, tzinfo=None)
    match = _TIME_RE.match(value.strip())
    hours, minutes, seconds = (int(g or 0) for g in match.groups()) if match else (99, 0, 0)
    if hours > 23 or minutes > 59 or seconds > 59:
        raise InvalidValue(
            f"start_time {value!r} is not a time of day: use 24-hour HH:MM or HH:MM:SS, "
            "e.g. '06:45'"
        )
    return dt.time(hours, minutes, seconds)


# -- periods ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Period:
    """A summary period: the calendar week/month/year containing a date, or the N days ending
    on it (inclusive)."""

    kind: PeriodKind
    days: int | None = None

    @property
    def label(self) -> str:
        return f"{self.days}d" if self.kind == "days" else self.kind

    def bounds(self, at: dt.date, week_start: str = "monday") -> tuple[dt.date, dt.date]:
        """First and last local date (both inclusive) of the period containing `at`."""
        if self.kind == "week":
            offset = (at.weekday() - WEEKDAYS.index(check_week_start(week_start))) % 7
            start = at - dt.timedelta(days=offset)
            return start, start + dt.timedelta(days=6)
        if self.kind == "month":
            last = calendar.monthrange(at.year, at.month)[1]
            return at.replace(day=1), at.replace(day=last)
        if self.kind == "year":
            return dt.date(at.year, 1, 1), dt.date(at.year, 12, 31)
        assert self.days is not None
        return at - dt.timedelta(days=self.days - 1), at


_DAYS_RE = re.compile(r"^(\d+)d$")


def parse_period(text: str) -> Period:
    """`week`, `month`, `year` or `Nd` with N in 1..3650."""
    value = text.strip().lower()
    if value in ("week", "month", "year"):
        return Period(value)  # type: ignore[arg-type]
    match = _DAYS_RE.match(value)
    if match is None:
        raise InvalidValue(
            f"period {text!r} is not understood: use 'week', 'month', 'year' or a number of "
            f"days such as '7d' or '90d' (1-{MAX_PERIOD_DAYS})"
        )
    days = int(match.group(1))
    if not 1 <= days <= MAX_PERIOD_DAYS:
        raise InvalidValue(f"period {text!r}: the number of days must be 1-{MAX_PERIOD_DAYS}")
    return Period("days", days)


def dates_between(start: dt.date, end: dt.date) -> list[dt.date]:
    """Every date from `start` to `end`, both inclusive."""
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
