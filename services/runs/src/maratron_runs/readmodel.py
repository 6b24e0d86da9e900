"""The Redis key layout of the runs read models, shared by `projections` (writer) and
`queries` (reader).

A *bucket* is a local date (`2026-11-23`) or a month (`2026-11`): every run counts in both, so a
summary sums whole months plus the loose days at its edges (at most ~180 buckets for 3650 days).

Every key carries the athlete id in a hash tag (`{athlete}`): one athlete's keys never mix with
another's, and they share a cluster slot, so the Lua readers stay single-slot.

  athlete:{a}:profile          string  Profile JSON (deleted on erasure)
  athlete:{a}:erased           string  erasure instant (ISO), once the athlete was deleted
  runs:{a}:data                hash    run_id -> Run JSON
  runs:{a}:index               zset    lexicographic (all scores 0): `index_member(run)`
  runs:{a}:days                hash    `{bucket}|c|d|t|e` -> count, metres, seconds, elevation
  runs:{a}:longest:{bucket}    zset    run_id -> metres (the bucket's longest run on top)
  shoes:{a}:data               hash    shoe_id -> Shoe JSON (without run sums)
  shoes:{a}:rundist            hash    shoe_id -> exact sum of its runs' metres
  shoes:{a}:runcount           hash    shoe_id -> number of runs
  shoes:{a}:default            string  the default shoe id
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import re

from maratron_contracts.runs import Run
from maratron_contracts.units import InvalidValue
from maratron_projections import Keys

DAY_FIELDS = ("c", "d", "t", "e")  # count, distance (m), moving time (s), elevation (m)
_NO_TIME = "--:--:--"  # sorts before any clock time: untimed runs come last within their day
_MEMBER_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T(\d{2}:\d{2}:\d{2}|--:--:--)\|\d{20}\|[^|]+$")


def tag(athlete_id: str) -> str:
    return "{" + athlete_id + "}"


class RunsKeys:
    """Key names of one athlete's runs read models."""

    def __init__(self, keys: Keys, athlete_id: str) -> None:
        a = tag(athlete_id)
        self.profile = keys("athlete", a, "profile")
        self.erased = keys("athlete", a, "erased")
        self.runs = keys("runs", a, "data")
        self.index = keys("runs", a, "index")
        self.days = keys("runs", a, "days")
        self.longest_prefix = keys("runs", a, "longest") + ":"
        self.shoes = keys("shoes", a, "data")
        self.shoe_distance = keys("shoes", a, "rundist")
        self.shoe_runs = keys("shoes", a, "runcount")
        self.default_shoe = keys("shoes", a, "default")

    def longest(self, bucket: str) -> str:
        return self.longest_prefix + bucket

    @staticmethod
    def of(keys: Keys, athlete_id: str) -> RunsKeys:
        """The (shared, never mutated) key names, built once per key space and athlete: the
        projections need them for every event (ten key names each)."""
        return _runs_keys(keys, athlete_id)


@functools.lru_cache(maxsize=4096)
def _runs_keys(keys: Keys, athlete_id: str) -> RunsKeys:
    return RunsKeys(keys, athlete_id)


def buckets(day: dt.date) -> tuple[str, str]:
    """The day and month buckets a run of `day` counts in."""
    iso = day.isoformat()
    return iso, iso[:7]


def bucket_field(bucket: str, field: str) -> str:
    return f"{bucket}|{field}"


def cover(start: dt.date, end: dt.date) -> list[str]:
    """Buckets covering `start`..`end` (inclusive) exactly once: whole months as months, the
    rest as days."""
    out: list[str] = []
    day = start
    while day <= end:
        month_end = _month_end(day)
        if day.day == 1 and month_end <= end:
            out.append(day.isoformat()[:7])
            day = month_end + dt.timedelta(days=1)
        else:
            out.append(day.isoformat())
            day += dt.timedelta(days=1)
    return out


def _month_end(day: dt.date) -> dt.date:
    first_next = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return first_next - dt.timedelta(days=1)


def index_member(run: Run) -> str:
    """Sorts newest first under ZRANGE BYLEX REV: local date, start time, then log time."""
    clock = run.start_time.isoformat(timespec="seconds") if run.start_time else _NO_TIME
    logged = run.logged_at.astimezone(dt.UTC).strftime("%Y%m%d%H%M%S%f")
    return f"{run.date.isoformat()}T{clock}|{logged}|{run.run_id}"


def member_run_id(member: str) -> str:
    return member.rsplit("|", 1)[1]


def encode_cursor(member: str) -> str:
    return base64.urlsafe_b64encode(member.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The index member a cursor stands for; InvalidValue for anything we did not issue."""
    try:
        member = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        member = ""
    if not _MEMBER_RE.match(member):
        raise InvalidValue(
            "cursor is not valid: pass the next_cursor of a previous list_runs answer, "
            "or leave it out for the first page"
        )
    return member


def text(value: bytes | str) -> str:
    """Redis replies as str, whether or not the client decodes responses."""
    return value.decode() if isinstance(value, bytes) else value
