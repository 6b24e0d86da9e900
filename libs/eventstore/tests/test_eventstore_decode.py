"""The page decoder: one loop over mixed pages, with the cyclic GC paused while it runs."""

from __future__ import annotations

import gc
from uuid import uuid4

import pytest
from maratron_contracts.envelope import EventMetadata, NewEvent
from maratron_eventstore import EventStore
from maratron_eventstore.codec import gc_paused


def test_gc_paused_restores_the_collector_even_on_error() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError), gc_paused():
        assert not gc.isenabled()
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_gc_paused_leaves_a_disabled_collector_disabled() -> None:
    gc.disable()
    try:
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the application's choice, not ours to undo
    finally:
        gc.enable()


async def test_a_mixed_page_decodes_each_event_as_read_alone(store: EventStore) -> None:
    """Sealed, erased, upcast, unknown and plain events interleaved in one page, metadata
    changing between appends and repeating within one: each event equals its own stream's
    read (a page of one), field for field."""
    for i in range(4):
        meta = EventMetadata(command_id=uuid4(), trace_id=f"t{i}")
        athlete = f"ath{i % 2}"
        await store.append(
            f"athlete:{i}", athlete,
            [NewEvent(event_type="AthleteRegistered",
                      data={"name": f"N{i}", "email": f"{i}@x.org", "units": "km"}),
             NewEvent(event_type="RunLogged", schema_version=1, data={"km": float(i)}),
             NewEvent(event_type="RunLogged", schema_version=2, data={"distance_km": 1.0}),
             NewEvent(event_type="Mystery", schema_version=3, data={"note": "$enc", "x": [i]})],
            expected_version=0, metadata=meta,
        )  # fmt: skip
    await store.erase_athlete("ath1")
    enabled = gc.isenabled()
    page = await store.read_all(0)
    assert gc.isenabled() == enabled
    assert [e.global_position for e in page] == list(range(1, 17))
    for i in range(4):
        alone = await store.read_stream(f"athlete:{i}")
        assert page[i * 4 : i * 4 + 4] == alone
        for a, b in zip(page[i * 4 : i * 4 + 4], alone, strict=True):
            assert a.__dict__ == b.__dict__
            assert a.model_fields_set == b.model_fields_set
            assert a.model_fields_set is not b.model_fields_set
    registered = page[0::4]
    assert [e.data["name"] for e in registered] == ["N0", "[erased]", "N2", "[erased]"]
    assert [(e.schema_version, e.data) for e in page[1::4]] == [
        (2, {"distance_km": float(i)}) for i in range(4)
    ]
    assert page[3].data == {"note": "$enc", "x": [0]}  # the marker as a plain value: untouched
    assert page[0].metadata is page[3].metadata  # one append: metadata parsed once
    assert page[4].metadata.trace_id == "t1"
    # Each event owns its field set, as a validated model does.
    assert page[0].model_fields_set is not page[1].model_fields_set
