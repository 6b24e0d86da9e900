"""append(): optimistic concurrency, durable command dedup, ownership."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest
from maratron_contracts.envelope import EventMetadata, NewEvent
from maratron_contracts.errors import Conflict, NotFound, ValidationFailed
from maratron_eventstore import EventStore, StreamOwnershipError, WrongExpectedVersion

META = EventMetadata()


def tick(i: int = 0) -> NewEvent:
    return NewEvent(event_type="Tick", data={"i": i})


async def test_append_assigns_versions_and_positions(store: EventStore) -> None:
    first = await store.append(
        "run:a", "ath1", [tick(1), tick(2)], expected_version=0, metadata=META
    )
    second = await store.append("run:b", "ath1", [tick(3)], expected_version=None, metadata=META)
    assert (first.stream_version, first.global_position) == (2, 2)
    assert (second.stream_version, second.global_position) == (1, 3)
    assert not first.duplicate
    events = await store.read_stream("run:a")
    assert [e.event_id for e in events] == first.event_ids
    assert [e.data["i"] for e in events] == [1, 2]
    assert await store.head() == 3


async def test_wrong_expected_version_is_a_conflict(store: EventStore) -> None:
    await store.append("run:c", "ath1", [tick()], expected_version=0, metadata=META)
    with pytest.raises(WrongExpectedVersion) as exc_info:
        await store.append("run:c", "ath1", [tick()], expected_version=0, metadata=META)
    err = exc_info.value
    assert isinstance(err, Conflict)
    assert "run:c is at version 1, not the expected 0" in err.message
    assert err.details["actual_version"] == 1
    with pytest.raises(WrongExpectedVersion):
        await store.append("run:new", "ath1", [tick()], expected_version=3, metadata=META)
    ok = await store.append("run:c", "ath1", [tick()], expected_version=1, metadata=META)
    assert ok.stream_version == 2
    assert len(await store.read_stream("run:c")) == 2
    assert await store.stream_info("run:new") is None


async def test_retried_command_appends_once_and_returns_the_original(store: EventStore) -> None:
    command_id = uuid4()
    meta = EventMetadata(command_id=command_id)
    first = await store.append(
        "run:d",
        "ath1",
        [tick(1)],
        expected_version=0,
        metadata=meta,
        command_id=command_id,
        result_data={"run_id": "d"},
    )
    retry = await store.append(
        "run:d",
        "ath1",
        [tick(1)],
        expected_version=0,
        metadata=meta,
        command_id=command_id,
        result_data={"run_id": "d"},
    )
    assert retry.duplicate and not first.duplicate
    assert (retry.stream_version, retry.global_position, retry.event_ids, retry.data) == (
        first.stream_version,
        first.global_position,
        first.event_ids,
        {"run_id": "d"},
    )
    assert len(await store.read_stream("run:d")) == 1
    assert await store.command_result(command_id) == first
    assert await store.command_result(uuid4()) is None


async def test_concurrent_duplicates_end_with_one_original(store: EventStore) -> None:
    command_id = uuid4()

    async def attempt() -> object:
        return await store.append(
            "run:e",
            "ath1",
            [tick(), tick()],
            expected_version=None,
            metadata=EventMetadata(command_id=command_id),
            command_id=command_id,
        )

    results = await asyncio.gather(*(attempt() for _ in range(6)))
    originals = [r for r in results if not r.duplicate]  # type: ignore[attr-defined]
    assert len(originals) == 1
    for r in results:
        assert r.event_ids == originals[0].event_ids  # type: ignore[attr-defined]
        assert r.global_position == originals[0].global_position  # type: ignore[attr-defined]
    assert [e.stream_version for e in await store.read_stream("run:e")] == [1, 2]


async def test_stream_of_another_athlete_is_not_found(store: EventStore) -> None:
    await store.append("run:f", "owner", [tick()], expected_version=0, metadata=META)
    with pytest.raises(StreamOwnershipError) as exc_info:
        await store.append("run:f", "intruder", [tick()], expected_version=1, metadata=META)
    assert isinstance(exc_info.value, NotFound)
    assert str(exc_info.value) == "stream run:f not found"
    # The refusal comes before the version check: a wrong version reveals nothing either.
    with pytest.raises(StreamOwnershipError):
        await store.append("run:f", "intruder", [], expected_version=7, metadata=META)
    assert [e.athlete_id for e in await store.read_stream("run:f")] == ["owner"]


async def test_command_id_of_another_athlete_reveals_nothing(store: EventStore) -> None:
    command_id = uuid4()
    await store.append("run:k", "owner", [tick()], expected_version=0, metadata=META,
                       command_id=command_id, result_data={"secret": 1})  # fmt: skip
    with pytest.raises(StreamOwnershipError):
        await store.append("run:other", "intruder", [tick()], expected_version=0,
                           metadata=META, command_id=command_id)  # fmt: skip
    assert await store.stream_info("run:other") is None


async def test_empty_append_records_the_command_only(store: EventStore) -> None:
    command_id = uuid4()
    result = await store.append(
        "run:g",
        "ath1",
        [],
        expected_version=0,
        metadata=META,
        command_id=command_id,
        result_data={"noop": True},
    )
    assert (result.stream_version, result.global_position, result.event_ids) == (0, None, [])
    assert await store.command_result(command_id) == result
    assert await store.head() == 0


async def test_reused_event_id_is_a_conflict(store: EventStore) -> None:
    event = tick()
    await store.append("run:h", "ath1", [event], expected_version=0, metadata=META)
    with pytest.raises(Conflict):
        await store.append("run:i", "ath1", [tick(), event], expected_version=0, metadata=META)
    assert await store.stream_info("run:i") is None  # all or nothing
    # Positions stay dense: the aborted append's numbers are reused.
    after = await store.append("run:i", "ath1", [tick()], expected_version=0, metadata=META)
    assert after.global_position == 2
    assert await store.verify_chains() == []


async def test_negative_expected_version_is_rejected(store: EventStore) -> None:
    with pytest.raises(ValidationFailed):
        await store.append("run:j", "ath1", [tick()], expected_version=-1, metadata=META)
