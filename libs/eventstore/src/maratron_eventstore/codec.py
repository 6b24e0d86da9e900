"""Connection set-up and the fast path from stored rows to `RecordedEvent`s."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import asyncpg
import orjson
from maratron_contracts.envelope import EventMetadata, RecordedEvent
from pydantic import BaseModel

# Column order of every event read; `EventDecoder` depends on it. data and metadata come as
# text: data is parsed by orjson and can be scanned for sealed fields at C speed; identical
# metadata (all events of one command) is parsed once per read.
_COLUMNS = (
    "global_position", "event_id", "stream_id", "stream_version", "athlete_id", "event_type",
    "schema_version", "data::text", "metadata::text", "recorded_at", "hash",
)  # fmt: skip
EVENT_COLUMNS = ", ".join(_COLUMNS)
DATA_COLUMN = 7  # index of data::text in EVENT_COLUMNS
ATHLETE_COLUMN = 4
# Every event read has one more column after EVENT_COLUMNS: the athlete's personal-data key
# when the statement joined it (read_stream: no second round trip for sealed fields), else
# NO_KEY. One row width for all reads keeps the decoder's unpacking exact (a starred unpack
# of a trailing column would cost more than the column).
KEY_COLUMN = 11
NO_KEY = "NULL::bytea"


def event_columns(alias: str) -> str:
    """EVENT_COLUMNS qualified by a table alias, for statements that join other tables."""
    return ", ".join(f"{alias}.{column}" for column in _COLUMNS)


Upcast = Callable[[str, int, dict[str, Any]], tuple[int, dict[str, Any]]]

_JSONB_VERSION = b"\x01"
_FIELDS_SET = frozenset(RecordedEvent.model_fields)
_new = object.__new__
# The setters of the four slots every pydantic model instance has (`BaseModel.__slots__`):
# called directly they cost half of `object.__setattr__` (no attribute lookup per call).
_SLOT_SETTERS = tuple(
    BaseModel.__dict__[slot].__set__
    for slot in (
        "__dict__",
        "__pydantic_fields_set__",
        "__pydantic_extra__",
        "__pydantic_private__",
    )
)


def _encode_jsonb(value: Any) -> bytes:
    return _JSONB_VERSION + orjson.dumps(value)


def _decode_jsonb(raw: bytes) -> Any:
    return orjson.loads(memoryview(raw)[1:])


async def init_connection(conn: asyncpg.Connection) -> None:
    """jsonb <-> Python values via orjson in binary format (no text round trip)."""
    await conn.set_type_codec(
        "jsonb",
        schema="pg_catalog",
        encoder=_encode_jsonb,
        decoder=_decode_jsonb,
        format="binary",
    )


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection during a block that only allocates (decoding a page).

    A page of 5,000 events allocates ~15,000 container objects (models, their dicts and field
    sets) that all stay alive until the page is returned: the collector would run a dozen young
    collections over them, promote them, and start full collections of the whole heap, which
    profiled at about a third of the read path's CPU. Paused, the allocations are still
    counted, so one young collection runs right after the block: nothing is skipped, only not
    repeated. The block must not await: other tasks would run with the collector paused. A
    collector already disabled (by the application) stays so.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class EventDecoder:
    """Builds `RecordedEvent`s from rows without re-validating what Postgres already typed.

    Pydantic's `model_construct` costs ~15 us per event (Python-level loop over fields); the
    store reads >100k events/s only by filling the instances directly, a page at a time in one
    loop (no call per event). Every value is already of the field's type (columns are typed,
    metadata is validated), which a test checks against a validated instance.
    """

    def __init__(self) -> None:
        self._metadata: dict[str, EventMetadata] = {}

    def metadata(self, raw: str) -> EventMetadata:
        meta = self._metadata.get(raw)
        if meta is None:
            if len(self._metadata) > 4096:
                self._metadata.clear()
            meta = self._metadata[raw] = EventMetadata.model_validate_json(raw)
        return meta

    def events(
        self,
        rows: Sequence[asyncpg.Record],
        datas: Sequence[dict[str, Any]],
        *,
        current: Mapping[str, int],
        upcast: Upcast,
    ) -> list[RecordedEvent]:
        """One event per row, in order. `datas`: each row's parsed (and already decrypted) data;
        `current`: the current schema version of each registered event type, older ones are
        brought up to it by `upcast` (the registry's), unregistered types pass as stored."""
        out: list[RecordedEvent] = []
        append = out.append
        metadata = self.metadata
        prev_raw: str | None = None
        meta: EventMetadata | None = None
        fields_set = _FIELDS_SET
        cls = RecordedEvent
        new = _new
        set_dict, set_fields, set_extra, set_private = _SLOT_SETTERS
        for row, data in zip(rows, datas, strict=True):
            # Unpacking a record is twice as fast as indexing it 12 times.
            gp, event_id, stream_id, version, athlete, etype, schema, _, raw_meta, at, hash_, _ = (
                row
            )
            if raw_meta != prev_raw:  # events of one append share metadata: compare, no hash
                meta = metadata(raw_meta)
                prev_raw = raw_meta
            target = current.get(etype)
            if target is not None and schema < target:
                schema, data = upcast(etype, schema, data)
            event = new(cls)
            set_dict(
                event,
                {
                    "global_position": gp,
                    "event_id": event_id,
                    "stream_id": stream_id,
                    "stream_version": version,
                    "athlete_id": athlete,
                    "event_type": etype,
                    "schema_version": schema,
                    "data": data,
                    "metadata": meta,
                    "recorded_at": at,
                    "hash": hash_,
                },
            )
            set_fields(event, set(fields_set))  # one per event, mutable: as pydantic's own
            set_extra(event, None)
            set_private(event, None)
            append(event)
        return out
