"""Pure tests of the unit helpers shared by the gateway and the runs service."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from maratron_contracts.errors import ValidationFailed
from maratron_contracts.units import (
    InvalidValue,
    check_pace,
    check_timezone,
    format_duration,
    format_pace,
    from_metres,
    local_today,
    parse_duration,
    parse_period,
    parse_time_of_day,
    to_metres,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1:02:30", 3750), ("45:10", 2710), ("75:30", 4530), ("2710", 2710), (" 0:05 ", 5)],
)
def test_parse_duration_forms(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["1:60:00", "10:61", "abc", "1:2:3:4", "-5", "", 1.5, -3, True])
def test_parse_duration_refuses_with_a_hint(bad: object) -> None:
    with pytest.raises(InvalidValue) as info:
        parse_duration(bad)  # type: ignore[arg-type]
    assert "HH:MM:SS" in info.value.message
    assert isinstance(info.value, ValidationFailed)
    assert isinstance(info.value, ValueError)


@given(st.integers(min_value=0, max_value=400_000))
def test_duration_round_trip(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


@given(st.integers(min_value=1, max_value=1_000_000))
def test_metres_round_trip_km(metres: int) -> None:
    assert to_metres(from_metres(metres, "km"), "km") == metres


def test_miles_to_metres() -> None:
    assert to_metres(1, "mi") == 1609
    assert to_metres(26.2188, "mi") == 42195
    with pytest.raises(InvalidValue, match="'km' or 'mi'"):
        to_metres(1, "furlong")


def test_pace_limits() -> None:
    check_pace(10_000, 1500)  # 2:30/km exactly is allowed
    check_pace(1000, 1800)  # 30:00/km exactly is allowed
    with pytest.raises(InvalidValue, match="faster than 2:30/km"):
        check_pace(10_000, 1499)
    with pytest.raises(InvalidValue, match="slower than 30:00/km"):
        check_pace(1000, 1801)
    assert format_pace(299.6) == "5:00"
    assert format_pace(None) is None


def test_periods() -> None:
    wed = dt.date(2026, 11, 25)
    assert parse_period("week").bounds(wed, "monday") == (
        dt.date(2026, 11, 23),
        dt.date(2026, 11, 29),
    )
    assert parse_period("week").bounds(wed, "sunday") == (
        dt.date(2026, 11, 22),
        dt.date(2026, 11, 28),
    )
    assert parse_period("month").bounds(dt.date(2024, 2, 10)) == (
        dt.date(2024, 2, 1),
        dt.date(2024, 2, 29),
    )
    assert parse_period("year").bounds(wed) == (dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    assert parse_period("7d").bounds(wed) == (dt.date(2026, 11, 19), wed)
    assert parse_period("3650d").label == "3650d"
    for bad in ("0d", "3651d", "fortnight", "7"):
        with pytest.raises(InvalidValue):
            parse_period(bad)


@given(st.dates(), st.sampled_from(["monday", "wednesday", "sunday"]))
def test_week_contains_date_and_starts_on_week_start(day: dt.date, week_start: str) -> None:
    try:
        start, end = parse_period("week").bounds(day, week_start)
    except OverflowError:
        return
    assert start <= day <= end
    assert (end - start).days == 6
    assert start.strftime("%A").lower() == week_start


def test_local_today_uses_the_time_zone() -> None:
    now = dt.datetime(2026, 11, 23, 23, 30, tzinfo=dt.UTC)
    assert local_today("UTC", now) == dt.date(2026, 11, 23)
    assert local_today("Asia/Tokyo", now) == dt.date(2026, 11, 24)
    assert local_today("America/Los_Angeles", now) == dt.date(2026, 11, 23)
    with pytest.raises(InvalidValue, match="IANA"):
        check_timezone("Mars/Olympus")


def test_time_of_day() -> None:
    assert parse_time_of_day("06:45") == dt.time(6, 45)
    assert parse_time_of_day("7:05") == dt.time(7, 5)
    assert parse_time_of_day(" 18:30:15 ") == dt.time(18, 30, 15)
    for bad in ("25:00", "12:60", "noon", "12", "12:00:00.5", "12:00+01:00"):
        with pytest.raises(InvalidValue, match="HH:MM"):
            parse_time_of_day(bad)
