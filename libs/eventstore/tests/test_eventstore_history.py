"""Audit reads: one athlete's or one stream's history with filters, and time -> position."""

from __future__ import annotations

from datetime import UTC, datetime

from maratron_contracts.envelope import EventMetadata, NewEvent
from maratron_eventstore import EventStore


def _run(km: float) -> NewEvent:
    return NewEvent(event_type="RunLogged", schema_version=2, data={"distance_km": km})


async def test_history_filters_by_athlete_stream_type_and_time(store: EventStore) -> None:
    meta = EventMetadata()
    await store.append("athlete:a", "a", [NewEvent(
        event_type="AthleteRegistered", data={"name": "Ann", "email": "a@x", "units": "km"},
    )], expected_version=0, metadata=meta)  # fmt: skip
    await store.append("run:1", "a", [_run(5)], expected_version=0, metadata=meta)
    await store.append("run:2", "b", [_run(7)], expected_version=0, metadata=meta)
    middle = datetime.now(UTC)
    await store.append("run:1", "a", [_run(6)], expected_version=1, metadata=meta)

    of_a = await store.history(athlete_id="a")
    assert [(e.stream_id, e.stream_version) for e in of_a] == [
        ("athlete:a", 1),
        ("run:1", 1),
        ("run:1", 2),
    ]
    assert of_a[0].data["name"] == "Ann"  # decrypted like every other read
    assert [e.data["distance_km"] for e in await store.history(stream_id="run:1")] == [5, 6]
    assert len(await store.history(athlete_id="a", event_types=["RunLogged"])) == 2
    assert [e.data["distance_km"] for e in await store.history(athlete_id="a", since=middle)] == [6]
    assert len(await store.history(athlete_id="a", until=middle)) == 2
    assert await store.history(athlete_id="nobody") == []


async def test_position_at_maps_time_to_the_log(store: EventStore) -> None:
    meta = EventMetadata()
    assert await store.position_at(datetime.now(UTC)) == 0
    first = await store.append("run:1", "a", [_run(5)], expected_version=0, metadata=meta)
    between = datetime.now(UTC)
    await store.append("run:1", "a", [_run(6)], expected_version=1, metadata=meta)
    assert await store.position_at(between) == first.global_position
    assert await store.position_at(datetime.now(UTC)) == await store.head()
