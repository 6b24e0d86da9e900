"""Pure tests of what RunsProjection leaves in Redis after edits (folded in `MemoryRedis`, no
stack): an edit nets the old and new contributions per field, so these pin the exact state the
un-netted subtract-then-add wrote, down to the fields an edit leaves at zero."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, cast
from unittest.mock import MagicMock

from maratron_contracts.envelope import Actor, EventMetadata, RecordedEvent
from maratron_contracts.messages import Event
from maratron_contracts.runs import RunDeleted, RunLogged, RunUpdated
from maratron_projections import Keys
from maratron_projections.memory import MemoryRedis
from maratron_projections.projector import Projector
from maratron_runs.projections import RunsProjection
from maratron_runs.readmodel import RunsKeys
from redis.asyncio import Redis

NOW = dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC)
DAY1, DAY2 = dt.date(2026, 10, 31), dt.date(2026, 11, 2)
ATHLETE = "a-edits"


def _recorded(events: list[Event]) -> list[RecordedEvent]:
    meta = EventMetadata(actor=Actor.system("test"))
    return [
        RecordedEvent(
            global_position=i,
            event_id=uuid.uuid4(),
            stream_id="run:r1",
            stream_version=i,
            athlete_id=ATHLETE,
            event_type=ev.event_type,
            schema_version=ev.schema_version,
            data=ev.model_dump(mode="json"),
            metadata=meta,
            recorded_at=NOW,
        )
        for i, ev in enumerate(events, start=1)
    ]


async def _fold(events: list[Event]) -> tuple[MemoryRedis, RunsKeys]:
    fold = MemoryRedis(Redis(), complete=True)
    keys = Keys("test")
    projector = Projector(cast(Any, fold), MagicMock(), [RunsProjection()], keys, name="t")
    await projector.apply_in_log_order(_recorded(events))
    return fold, RunsKeys(keys, ATHLETE)


def _hash(fold: MemoryRedis, key: str) -> dict[str, int]:
    value: dict[bytes, Any] = cast(Any, fold._data.get(key.encode())) or {}
    return {f.decode(): int(v) for f, v in value.items()}


def _zset(fold: MemoryRedis, key: str) -> dict[str, float]:
    value: dict[bytes, Any] = cast(Any, fold._data.get(key.encode())) or {}
    return {m.decode(): float(s) for m, s in value.items()}


LOGGED: dict[str, Any] = {
    "run_id": "r1", "date": DAY1, "distance_m": 10_000, "duration_s": 3_000, "shoe_id": "s1",
}  # fmt: skip


async def test_an_edit_moving_day_month_and_shoe_keeps_the_old_fields_at_zero() -> None:
    moved = {**LOGGED, "date": DAY2, "shoe_id": "s2", "elevation_gain_m": 40}
    fold, k = await _fold(
        [
            RunLogged(**LOGGED, logged_at=NOW),
            RunUpdated(**moved, changed=["date", "shoe_id"], updated_at=NOW),
        ]
    )
    zero = {"c": 0, "d": 0, "t": 0, "e": 0}
    now = {"c": 1, "d": 10_000, "t": 3_000, "e": 40}
    expected = {
        **{f"{b}|{f}": v for b in ("2026-10-31", "2026-10") for f, v in zero.items()},
        **{f"{b}|{f}": v for b in ("2026-11-02", "2026-11") for f, v in now.items()},
    }
    assert _hash(fold, k.days) == expected
    assert _hash(fold, k.shoe_distance) == {"s1": 0, "s2": 10_000}
    assert _hash(fold, k.shoe_runs) == {"s1": 0, "s2": 1}
    assert _zset(fold, k.longest("2026-10-31")) == {}
    assert _zset(fold, k.longest("2026-11")) == {"r1": 10_000}
    assert len(_zset(fold, k.index)) == 1


async def test_repeated_edits_and_a_delete_net_to_the_plain_sums() -> None:
    edits: list[Event] = [
        RunUpdated(**{**LOGGED, "duration_s": s}, changed=["duration_s"], updated_at=NOW)
        for s in (3_100, 3_200, 2_900)
    ]
    fold, k = await _fold([RunLogged(**LOGGED, logged_at=NOW), *edits])
    assert _hash(fold, k.days)["2026-10-31|t"] == 2_900
    assert _hash(fold, k.days)["2026-10|e"] == 0  # created by the log's HINCRBY 0, kept
    assert _zset(fold, k.longest("2026-10-31")) == {"r1": 10_000}
    fold, k = await _fold(
        [RunLogged(**LOGGED, logged_at=NOW), *edits, RunDeleted(run_id="r1", deleted_at=NOW)]
    )
    assert set(_hash(fold, k.days).values()) == {0}
    assert len(_hash(fold, k.days)) == 8
    assert _hash(fold, k.shoe_distance) == {"s1": 0}
    assert _zset(fold, k.longest("2026-10")) == {}
    assert fold._data.get(k.runs.encode()) is None
