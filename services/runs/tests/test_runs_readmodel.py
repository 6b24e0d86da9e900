"""Pure tests of the read-model key layout helpers (buckets, cursors, ordering)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from maratron_contracts.runs import Run
from maratron_contracts.units import InvalidValue, dates_between
from maratron_runs.readmodel import cover, decode_cursor, encode_cursor, index_member

LOGGED = dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC)


def _expand(buckets: list[str]) -> list[dt.date]:
    out: list[dt.date] = []
    for b in buckets:
        if len(b) == 7:
            first = dt.date.fromisoformat(b + "-01")
            nxt = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
            out += dates_between(first, nxt - dt.timedelta(days=1))
        else:
            out.append(dt.date.fromisoformat(b))
    return out


@given(st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2090, 1, 1)),
       st.integers(min_value=0, max_value=3649))  # fmt: skip
def test_cover_is_exact_and_small(start: dt.date, span: int) -> None:
    end = start + dt.timedelta(days=span)
    buckets = cover(start, end)
    assert _expand(buckets) == dates_between(start, end)
    assert len(buckets) <= 62 + span // 28 + 1


def test_cover_uses_months_when_whole() -> None:
    assert cover(dt.date(2026, 2, 1), dt.date(2026, 2, 28)) == ["2026-02"]
    assert cover(dt.date(2026, 1, 31), dt.date(2026, 3, 1)) == [
        "2026-01-31",
        "2026-02",
        "2026-03-01",
    ]


def _run(day: str, clock: str | None, run_id: str, logged: dt.datetime = LOGGED) -> Run:
    start = dt.time.fromisoformat(clock) if clock else None
    return Run(run_id=run_id, athlete_id="a", date=dt.date.fromisoformat(day), start_time=start,
               distance_m=5000, duration_s=1500, logged_at=logged)  # fmt: skip


def test_index_members_sort_by_date_then_time_then_log_order() -> None:
    runs = [
        _run("2026-11-20", None, "a"),
        _run("2026-11-20", "06:00", "b"),
        _run("2026-11-20", "06:00", "c", LOGGED + dt.timedelta(seconds=1)),
        _run("2026-11-21", "05:00", "d"),
    ]
    members = [index_member(r) for r in runs]
    assert sorted(members) == members


def test_cursor_round_trip_and_garbage() -> None:
    member = index_member(_run("2026-11-20", "06:00", "r1"))
    assert decode_cursor(encode_cursor(member)) == member
    for bad in ("", "garbage", encode_cursor("2026-11-20|x"), "!!!"):
        with pytest.raises(InvalidValue, match="cursor"):
            decode_cursor(bad)
