"""The event store: atomic appends, gap-free reads, subscriptions, hash chains, erasure.

Gap-free global order: every append runs `{ns}.append_events` (see `migrations`), which takes a
namespace-wide transaction advisory lock before assigning positions, so positions are assigned
AND committed in one serial order. A reader that sees position p therefore sees every p' < p;
`read_all` needs no snapshot filtering. Called in autocommit, the lock is held only for the
server-side work of one statement plus the commit, never across a network round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncGenerator, Collection, Iterator, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
from maratron_contracts.envelope import EventMetadata, NewEvent, RecordedEvent
from maratron_contracts.errors import Conflict, Unavailable, ValidationFailed
from maratron_contracts.registry import Registry
from maratron_contracts.subjects import DEFAULT_NAMESPACE, check_namespace
from orjson import loads

from maratron_eventstore import crypto
from maratron_eventstore.codec import (
    ATHLETE_COLUMN,
    DATA_COLUMN,
    EVENT_COLUMNS,
    KEY_COLUMN,
    NO_KEY,
    EventDecoder,
    event_columns,
    gc_paused,
    init_connection,
)
from maratron_eventstore.errors import StreamOwnershipError, WrongExpectedVersion
from maratron_eventstore.listener import NotifyListener
from maratron_eventstore.migrations import migrate, render
from maratron_eventstore.results import AppendResult, ChainViolation, StreamInfo
from maratron_eventstore.verify import verify_chains

log = logging.getLogger(__name__)

_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.AdminShutdownError,
    # asyncpg reports a connection killed in the middle of a query this way at times.
    asyncpg.InternalClientError,
)


@contextlib.contextmanager
def _database_errors() -> Iterator[None]:
    """Connection-level failures surface as the typed `Unavailable` (retryable)."""
    try:
        yield
    except _UNAVAILABLE as exc:
        raise Unavailable(f"event store unavailable: {exc}") from exc


class EventStore:
    """See docs/design.md ("libs/eventstore") for the contract of every method."""

    fallback_poll_seconds: float = 5.0  # subscribe() re-reads this often even without NOTIFY

    def __init__(
        self,
        db: asyncpg.Pool,
        pool: asyncpg.Pool,
        dsn: str,
        namespace: str,
        registry: Registry | None,
    ) -> None:
        self._db = db  # the store's own statements: no session state, so no reset on release
        self.pool = pool  # raw SQL of other tools: connections reset on release
        self.namespace = namespace
        self.registry = registry
        self._dsn = dsn
        self._channel = f"{namespace}_events"
        self._closed = False
        self._listeners: set[NotifyListener] = set()  # of open subscriptions
        ns = namespace
        self._sql_append = render("SELECT {ns}.append_events($1, $2, $3, $4, $5, $6, $7)", ns)
        self._sql_key = render("SELECT {ns}.personal_key($1, $2)", ns)
        self._sql_keys = render(
            "SELECT athlete_id, key FROM {ns}.personal_keys WHERE athlete_id = ANY($1::text[])", ns
        )
        self._sql_erase = render(
            """INSERT INTO {ns}.personal_keys (athlete_id, key, erased_at)
               VALUES ($1, NULL, now())
               ON CONFLICT (athlete_id) DO UPDATE
               SET key = NULL, erased_at = coalesce({ns}.personal_keys.erased_at, now())""",
            ns,
        )
        self._sql_command = render("SELECT result FROM {ns}.commands WHERE command_id = $1", ns)
        # The owner's key comes with the events (LEFT JOIN: NULL when erased or never created),
        # so a stream with sealed fields (every athlete stream) decodes in one round trip.
        self._sql_stream = render(
            f"SELECT {event_columns('e')}, k.key FROM {{ns}}.events e"
            " LEFT JOIN {ns}.personal_keys k ON k.athlete_id = e.athlete_id"
            " WHERE e.stream_id = $1 AND e.stream_version >= $2 ORDER BY e.stream_version",
            ns,
        )
        self._sql_stream_info = render(
            "SELECT athlete_id, stream_version FROM {ns}.events WHERE stream_id = $1"
            " ORDER BY stream_version DESC LIMIT 1",
            ns,
        )
        self._sql_head = render("SELECT coalesce(max(global_position), 0) FROM {ns}.events", ns)
        self._sql_read_all = {
            (until, types): _read_all_sql(ns, until=until, types=types)
            for until in (False, True)
            for types in (False, True)
        }

    # -- lifecycle ----------------------------------------------------------------------------
    @classmethod
    async def connect(
        cls,
        dsn: str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        registry: Registry | None = None,
        min_size: int = 1,
        max_size: int = 10,
    ) -> EventStore:
        check_namespace(namespace)
        settings = {"application_name": f"{namespace}_eventstore"}
        with _database_errors():
            db = await asyncpg.create_pool(
                dsn,
                min_size=min_size,
                max_size=max_size,
                init=init_connection,
                reset=_keep_session,
                server_settings=settings,
            )
            try:
                pool = await asyncpg.create_pool(  # filled on demand; light use expected
                    dsn, min_size=0, max_size=max(2, max_size // 2), init=init_connection,
                    server_settings=settings,
                )  # fmt: skip
            except BaseException:
                await db.close()
                raise
        return cls(db, pool, dsn, namespace, registry)

    async def close(self) -> None:
        """Close the pools; open subscriptions end (their iteration stops) instead of failing."""
        self._closed = True
        for listener in self._listeners:
            listener.wake.set()
        await asyncio.gather(self._db.close(), self.pool.close())

    async def migrate(self) -> None:
        with _database_errors():
            async with self._db.acquire() as conn:
                await migrate(conn, self.namespace)

    # -- writing ------------------------------------------------------------------------------
    async def append(
        self,
        stream_id: str,
        athlete_id: str,
        events: Sequence[NewEvent],
        *,
        expected_version: int | None,
        metadata: EventMetadata,
        command_id: UUID | None = None,
        result_data: dict[str, Any] | None = None,
    ) -> AppendResult:
        if expected_version is not None and expected_version < 0:
            raise ValidationFailed(f"expected_version must be >= 0 or None, got {expected_version}")
        payload = await self._payload(athlete_id, events)
        meta = metadata.model_dump(mode="json", exclude_none=True)
        try:
            with _database_errors():
                reply = await self._db.fetchval(
                    self._sql_append,
                    stream_id,
                    athlete_id,
                    expected_version,
                    command_id,
                    result_data,
                    meta,
                    payload,
                )
        except asyncpg.UniqueViolationError as exc:
            if command_id is not None and exc.constraint_name == "commands_pkey":
                original = await self.command_result(command_id)  # lost a race on the same id
                if original is not None:
                    return dataclasses.replace(original, duplicate=True)
            raise Conflict(
                f"could not append to {stream_id}: an event id is already stored",
                stream_id=stream_id,
            ) from exc
        status = reply["status"]
        if status == "ok":
            return AppendResult.from_json(reply["result"])
        if status == "duplicate":
            return AppendResult.from_json(reply["result"], duplicate=True)
        if status == "not_owner":
            raise StreamOwnershipError(f"stream {stream_id} not found")
        actual = reply["actual"]
        raise WrongExpectedVersion(
            f"stream {stream_id} is at version {actual}, not the expected {expected_version}: "
            "it changed since it was read; reload it and decide again",
            stream_id=stream_id,
            expected_version=expected_version,
            actual_version=actual,
        )

    async def _payload(self, athlete_id: str, events: Sequence[NewEvent]) -> list[dict[str, Any]]:
        """Events as sent to `append_events`, personal fields encrypted with the athlete's key.

        The key (a round trip, and created on first use) is fetched only when some event has a
        personal field with a value to seal: a run without name or notes needs none, and
        `encrypt_fields` would leave its data unchanged anyway. Whenever there IS a value to
        seal the key is fetched as before, so an erased athlete's (NULL) still turns it into
        "[erased]"; skipping also creates no key for an athlete who never had personal data.
        """
        personal = self._personal_fields(events)
        key: bytes | None = None
        if personal:
            with _database_errors():
                key = await self._db.fetchval(self._sql_key, athlete_id, crypto.new_key())
        out: list[dict[str, Any]] = []
        none: frozenset[str] = frozenset()
        for event, fields in zip(events, personal or [none] * len(events), strict=True):
            data = event.data
            if fields:
                data = crypto.encrypt_fields(
                    data, fields, key, athlete_id=athlete_id, event_id=str(event.event_id)
                )
            out.append(
                {
                    "event_id": event.event_id,
                    "event_type": event.event_type,
                    "schema_version": event.schema_version,
                    "data": data,
                }
            )
        return out

    def _personal_fields(self, events: Sequence[NewEvent]) -> list[frozenset[str]] | None:
        """Per event, the personal fields that carry a value (present and not None: exactly
        those `crypto.encrypt_fields` seals); None when no event has any (the common case)."""
        if self.registry is None:
            return None
        known = self.registry.events
        empty: frozenset[str] = frozenset()
        fields: list[frozenset[str]] = []
        for event in events:
            cls = known.get(event.event_type)
            declared = cls.personal_fields if cls is not None else empty
            if declared:
                data = event.data
                declared = frozenset(f for f in declared if data.get(f) is not None)
            fields.append(declared)
        return fields if any(fields) else None

    async def erase_athlete(self, athlete_id: str) -> None:
        """Delete the athlete's key: their personal fields read as "[erased]" from now on."""
        with _database_errors():
            await self._db.execute(self._sql_erase, athlete_id)

    # -- reading ------------------------------------------------------------------------------
    async def command_result(self, command_id: UUID) -> AppendResult | None:
        with _database_errors():
            raw = await self._db.fetchval(self._sql_command, command_id)
        return None if raw is None else AppendResult.from_json(raw)

    async def read_stream(self, stream_id: str, *, from_version: int = 1) -> list[RecordedEvent]:
        with _database_errors():
            rows = await self._db.fetch(self._sql_stream, stream_id, from_version)
        return await self._decode(rows, keys_joined=True)

    async def stream_info(self, stream_id: str) -> StreamInfo | None:
        with _database_errors():
            row = await self._db.fetchrow(self._sql_stream_info, stream_id)
        if row is None:
            return None
        return StreamInfo(stream_id=stream_id, athlete_id=row[0], version=row[1])

    async def read_all(
        self,
        after: int = 0,
        *,
        limit: int = 1000,
        until: int | None = None,
        event_types: Collection[str] | None = None,
    ) -> list[RecordedEvent]:
        args: list[Any] = [after, limit]
        if until is not None:
            args.append(until)
        if event_types is not None:
            args.append(list(event_types))
        sql = self._sql_read_all[until is not None, event_types is not None]
        with _database_errors():
            rows = await self._db.fetch(sql, *args)
        return await self._decode(rows)

    async def head(self) -> int:
        with _database_errors():
            position: int = await self._db.fetchval(self._sql_head)
        return position

    async def history(
        self,
        *,
        athlete_id: str | None = None,
        stream_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        event_types: Collection[str] | None = None,
        limit: int = 10_000,
    ) -> list[RecordedEvent]:
        """Events of one athlete and/or one stream in log order, for audit (filters optional)."""
        clauses: list[str] = []
        args: list[Any] = []
        for column, op, value in (
            ("athlete_id", "=", athlete_id),
            ("stream_id", "=", stream_id),
            ("recorded_at", ">=", since),
            ("recorded_at", "<=", until),
        ):
            if value is not None:
                args.append(value)
                clauses.append(f"{column} {op} ${len(args)}")
        if event_types is not None:
            args.append(list(event_types))
            clauses.append(f"event_type = ANY(${len(args)}::text[])")
        args.append(limit)
        where = " AND ".join(clauses) or "true"
        sql = render(
            f"SELECT {EVENT_COLUMNS}, {NO_KEY} FROM {{ns}}.events WHERE {where}"
            f" ORDER BY global_position LIMIT ${len(args)}",
            self.namespace,
        )
        with _database_errors():
            rows = await self._db.fetch(sql, *args)
        return await self._decode(rows)

    async def position_at(self, moment: datetime) -> int:
        """The last global position recorded at or before `moment` (0 before the first)."""
        sql = render(
            "SELECT coalesce(max(global_position), 0) FROM {ns}.events WHERE recorded_at <= $1",
            self.namespace,
        )
        with _database_errors():
            position: int = await self._db.fetchval(sql, moment)
        return position

    async def subscribe(
        self, after: int = 0, *, batch: int = 500
    ) -> AsyncGenerator[RecordedEvent, None]:
        """Every event after `after`, in order, then new ones as they commit; until cancelled
        or until the store is closed.

        An async generator (an AsyncIterator with `aclose()`, which closes the LISTEN connection).
        While a full page is being consumed the next one is already fetched (catch-up speed).
        """
        listener = NotifyListener(self._dsn, self._channel)
        self._listeners.add(listener)
        position = after
        pending: asyncio.Task[list[RecordedEvent]] | None = None
        try:
            await listener.ensure()  # LISTEN before the first read: nothing slips in between
            while not self._closed:
                if pending is None:
                    pending = self._fetch_page(listener, position, batch)
                try:
                    events = await pending
                except asyncpg.InterfaceError:
                    if self._closed:  # the pool closed under the read
                        return
                    raise
                except Unavailable as exc:  # Postgres restarting, connection dropped: retry
                    log.warning("subscription paused at position %d: %s", position, exc)
                    pending = None
                    await listener.wait(self.fallback_poll_seconds)
                    continue
                pending = None
                if len(events) >= batch:
                    pending = self._fetch_page(listener, events[-1].global_position, batch)
                for event in events:
                    yield event
                    position = event.global_position
                if pending is None and not self._closed:
                    await listener.ensure()
                    await listener.wait(self.fallback_poll_seconds)
        finally:
            self._listeners.discard(listener)
            if pending is not None:
                pending.cancel()
                pending.add_done_callback(_discard_outcome)
            await listener.close()

    def _fetch_page(
        self, listener: NotifyListener, after: int, batch: int
    ) -> asyncio.Task[list[RecordedEvent]]:
        # Clear the wake-up flag as the read starts: a commit it may miss sets the flag again.
        listener.wake.clear()
        return asyncio.create_task(self.read_all(after, limit=batch))

    async def _decode(
        self, rows: Sequence[asyncpg.Record], *, keys_joined: bool = False
    ) -> list[RecordedEvent]:
        """Rows -> events: personal fields opened (or erased), data upcast to current versions.

        Pure CPU with the cyclic GC paused (see `codec.gc_paused`). `keys_joined`: each row's
        KEY_COLUMN holds its athlete's key (NULL: erased or none), as read_stream selects it;
        otherwise only a page with sealed fields awaits (the keys of their athletes), between
        two such blocks.
        """
        if not rows:
            return []
        marker = crypto.SEALED_TEXT
        with gc_paused():
            texts = [row[DATA_COLUMN] for row in rows]
            datas: list[dict[str, Any]] = [loads(text) for text in texts]
            # Sealed fields are rare: a C-speed text scan first, the parsed check only on a hit.
            sealed = {
                row[ATHLETE_COLUMN]
                for row, text, data in zip(rows, texts, datas, strict=True)
                if marker in text and crypto.has_sealed(data)
            }
            if not sealed:
                return self._events(rows, datas)
            if keys_joined:
                for i, (row, text) in enumerate(zip(rows, texts, strict=True)):
                    if marker in text:
                        datas[i] = crypto.decrypt_fields(
                            datas[i],
                            row[KEY_COLUMN],
                            athlete_id=row[ATHLETE_COLUMN],
                            event_id=str(row[1]),
                        )
                return self._events(rows, datas)
        with _database_errors():
            found = await self._db.fetch(self._sql_keys, list(sealed))
        keys: dict[str, bytes | None] = {r[0]: r[1] for r in found}
        with gc_paused():
            for i, (row, text) in enumerate(zip(rows, texts, strict=True)):
                athlete = row[ATHLETE_COLUMN]
                if athlete in sealed and marker in text:
                    datas[i] = crypto.decrypt_fields(
                        datas[i], keys.get(athlete), athlete_id=athlete, event_id=str(row[1])
                    )
            return self._events(rows, datas)

    def _events(
        self, rows: Sequence[asyncpg.Record], datas: list[dict[str, Any]]
    ) -> list[RecordedEvent]:
        """The events of decrypted rows, upcast when the registry knows a newer version."""
        registry = self.registry
        if registry is None:
            return EventDecoder().events(rows, datas, current={}, upcast=_no_upcast)
        current = {etype: cls.schema_version for etype, cls in registry.events.items()}
        return EventDecoder().events(rows, datas, current=current, upcast=registry.upcast)

    # -- tamper evidence ----------------------------------------------------------------------
    async def verify_chains(self, stream_id: str | None = None) -> list[ChainViolation]:
        """Recompute every stream's hash chain (or one stream's); an empty list means intact."""
        with _database_errors():
            return await verify_chains(self._db, self.namespace, stream_id)


def _read_all_sql(namespace: str, *, until: bool, types: bool) -> str:
    """read_all's statement: $1 after, $2 limit, then $3 until and/or the event types."""
    where = ["global_position > $1"]
    if until:
        where.append("global_position <= $3")
    if types:
        where.append(f"event_type = ANY(${4 if until else 3}::text[])")
    return render(
        f"SELECT {EVENT_COLUMNS}, {NO_KEY} FROM {{ns}}.events WHERE {' AND '.join(where)}"
        " ORDER BY global_position LIMIT $2",
        namespace,
    )


def _no_upcast(event_type: str, version: int, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    raise AssertionError("no registry: nothing is upcast")  # `current` is empty


def _discard_outcome(task: asyncio.Task[list[RecordedEvent]]) -> None:
    """A prefetch abandoned by a closed subscription: nobody wants its result or error."""
    if not task.cancelled():
        task.exception()


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """Release without asyncpg's reset query (RESET ALL, UNLISTEN *, unlock all, ...): the
    store's statements leave no session state (transactions are rolled back by asyncpg anyway),
    and the reset would cost a second round trip on every call."""
