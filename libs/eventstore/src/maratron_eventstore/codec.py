"""Connection set-up and the fast path from a stored row to a `RecordedEvent`."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson
from maratron_contracts.envelope import EventMetadata, RecordedEvent

# Column order of every event read; `EventDecoder` depends on it. data and metadata come as
# text: data is parsed by orjson and can be scanned for sealed fields at C speed; identical
# metadata (all events of one command) is parsed once per read.
EVENT_COLUMNS = (
    "global_position, event_id, stream_id, stream_version, athlete_id, event_type, "
    "schema_version, data::text, metadata::text, recorded_at, hash"
)
_JSONB_VERSION = b"\x01"
_FIELDS_SET = frozenset(RecordedEvent.model_fields)
_new = object.__new__
_set = object.__setattr__


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


class EventDecoder:
    """Builds `RecordedEvent`s from rows without re-validating what Postgres already typed.

    Pydantic's `model_construct` costs ~15 us per event (Python-level loop over fields); the
    store reads >100k events/s only by filling the instance directly. Every value is already of
    the field's type (columns are typed, metadata is validated), which a test checks against a
    validated instance.
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

    def event(
        self,
        row: asyncpg.Record,
        data: dict[str, Any],
        schema_version: int | None = None,
    ) -> RecordedEvent:
        """`data`: parsed (decrypted, upcast); `schema_version` overrides the stored one."""
        event: RecordedEvent = _new(RecordedEvent)
        _set(
            event,
            "__dict__",
            {
                "global_position": row[0],
                "event_id": row[1],
                "stream_id": row[2],
                "stream_version": row[3],
                "athlete_id": row[4],
                "event_type": row[5],
                "schema_version": row[6] if schema_version is None else schema_version,
                "data": data,
                "metadata": self.metadata(row[8]),
                "recorded_at": row[9],
                "hash": row[10],
            },
        )
        _set(event, "__pydantic_fields_set__", set(_FIELDS_SET))  # mutable, as pydantic's
        _set(event, "__pydantic_extra__", None)
        _set(event, "__pydantic_private__", None)
        return event
