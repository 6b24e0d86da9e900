"""verify_chains: tampering, broken links and missing versions are named precisely."""

from __future__ import annotations

from uuid import uuid4

from maratron_contracts.envelope import EventMetadata, NewEvent
from maratron_eventstore import ChainViolation, EventStore

META = EventMetadata()


async def _seed(store: EventStore) -> None:
    for stream in ("run:x", "run:y"):
        for v in range(4):
            await store.append(stream, "ath1", [NewEvent(event_type="Tick", data={"v": v})],
                               expected_version=v, metadata=META, command_id=uuid4())  # fmt: skip


async def _position(store: EventStore, stream_id: str, version: int) -> int:
    pos: int = await store.pool.fetchval(
        f"SELECT global_position FROM {store.namespace}.events"
        " WHERE stream_id = $1 AND stream_version = $2",
        stream_id,
        version,
    )
    return pos


async def test_intact_chains_verify_clean(store: EventStore) -> None:
    await _seed(store)
    assert await store.verify_chains() == []
    assert await store.verify_chains("run:x") == []
    events = await store.read_stream("run:x")
    assert events[0].hash and all(e.hash for e in events)


async def test_tampered_data_is_detected_with_stream_and_position(store: EventStore) -> None:
    await _seed(store)
    pos = await _position(store, "run:x", 3)
    await store.pool.execute(
        f"UPDATE {store.namespace}.events SET data = '{{\"v\": 99}}' WHERE global_position = $1",
        pos,
    )
    violations = await store.verify_chains()
    assert [(v.stream_id, v.stream_version, v.global_position) for v in violations] == [
        ("run:x", 3, pos)
    ]
    assert "data altered" in violations[0].reason
    assert await store.verify_chains("run:y") == []
    assert len(await store.verify_chains("run:x")) == 1


async def test_rehashed_tampering_breaks_the_next_link(store: EventStore) -> None:
    await _seed(store)
    ns = store.namespace
    pos = await _position(store, "run:y", 2)
    # A forger who also recomputes the altered event's own hash still breaks the link after it.
    await store.pool.execute(
        f"""UPDATE {ns}.events SET data = '{{"v": 7}}',
                   hash = {ns}.event_hash(prev_hash, stream_id, stream_version, event_id,
                                          athlete_id, event_type, schema_version,
                                          '{{"v": 7}}', metadata, recorded_at)
             WHERE global_position = $1""",
        pos,
    )
    violations = await store.verify_chains()
    assert len(violations) == 1
    assert (violations[0].stream_id, violations[0].stream_version) == ("run:y", 3)
    assert "broken link" in violations[0].reason


async def test_deleted_event_is_a_missing_version(store: EventStore) -> None:
    await _seed(store)
    pos = await _position(store, "run:x", 2)
    await store.pool.execute(
        f"DELETE FROM {store.namespace}.events WHERE global_position = $1", pos
    )
    violations = await store.verify_chains("run:x")
    assert len(violations) == 1
    v = violations[0]
    assert isinstance(v, ChainViolation)
    assert (v.stream_id, v.stream_version) == ("run:x", 3)
    assert "missing version 2" in v.reason and "broken link" in v.reason


async def test_changed_owner_is_detected(store: EventStore) -> None:
    await _seed(store)
    await store.pool.execute(
        f"UPDATE {store.namespace}.events SET athlete_id = 'thief' WHERE stream_id = 'run:y'"
    )
    violations = await store.verify_chains()
    assert {v.stream_id for v in violations} == {"run:y"}
    assert len(violations) == 4


async def test_deleted_stream_tail_and_global_hole_are_detected(store: EventStore) -> None:
    await _seed(store)
    last_x = await _position(store, "run:x", 4)  # run:x is written first: positions 1-4
    await store.pool.execute(
        f"DELETE FROM {store.namespace}.events WHERE global_position = $1", last_x
    )
    # The chain of run:x alone looks intact; the command record and the position hole do not.
    violations = await store.verify_chains()
    assert [(v.stream_id, v.stream_version, v.global_position) for v in violations] == [
        ("run:x", 4, last_x),
        ("", 0, last_x),
    ]
    assert "commands recorded version 4" in violations[0].reason
    assert f"global position {last_x} missing" in violations[1].reason
    assert [v.reason for v in await store.verify_chains("run:x")] == [violations[0].reason]
    assert await store.verify_chains("run:y") == []
