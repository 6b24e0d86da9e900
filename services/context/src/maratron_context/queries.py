"""Read-model readers the gateway calls (Redis only, one or two round trips per call).

Search design: the context projection appends every searchable change (exchange recorded, memory
remembered or forgotten) to a per-athlete *corpus log* in Redis. `MemorySearch` keeps, per
process, an in-memory `SearchIndex` per athlete plus how many log entries it has applied; each
search makes ONE Redis round trip (`LRANGE log applied-1 -1`) to pick up what is new, applies it
incrementally, and searches in memory. So the gateway stays stateless (the cache is disposable
and re-validated against Redis on every call), a search always sees every write acknowledged
before it (read-your-writes), and its cost stays ~1-15 ms for 10,000 items instead of moving
and parsing the whole corpus per call. The entry just before the new ones is re-read and
compared: if Redis was flushed or rebuilt, the cache notices and reloads from the start.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from maratron_contracts.context import (
    ExchangeView,
    ItemType,
    MemoryItemView,
    MemoryMatch,
    MemorySearchResult,
    PreferencesView,
    SearchMemoryQuery,
    SessionDetail,
    SessionList,
    SessionStatus,
    SessionView,
    Visibility,
)
from maratron_projections import Keys
from redis.asyncio import Redis

from maratron_context import views
from maratron_context.domain import memory_not_found, session_not_found
from maratron_context.projections import (
    corpus_key,
    exchanges_key,
    memory_key,
    prefs_key,
    session_key,
    sessions_key,
)
from maratron_context.search import SearchIndex, SearchItem

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Cached:
    index: SearchIndex = field(default_factory=SearchIndex)
    applied: int = 0  # corpus log entries applied
    last: bytes | str | None = None  # the last applied entry, to detect a rebuilt log
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class MemorySearch:
    """Per-process cache of per-athlete search indexes, synced from the corpus log."""

    def __init__(self, redis: Redis, keys: Keys, *, max_athletes: int = 64) -> None:
        self.redis = redis
        self.keys = keys
        self.max_athletes = max_athletes
        self._cache: OrderedDict[str, _Cached] = OrderedDict()

    def _entry(self, key: str) -> _Cached:
        entry = self._cache.get(key)
        if entry is None:
            entry = self._cache[key] = _Cached()
            while len(self._cache) > self.max_athletes:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return entry

    async def index(self, athlete_id: str) -> SearchIndex:
        """The athlete's index, up to date with every corpus change in Redis."""
        key = corpus_key(self.keys, athlete_id)
        entry = self._entry(key)
        async with entry.lock:
            start = entry.applied
            raw = await self.redis.lrange(key, max(start - 1, 0), -1)  # type: ignore[misc]
            if start > 0:
                if not raw or raw[0] != entry.last:  # flushed or rebuilt: start over
                    entry.index, entry.applied, entry.last = SearchIndex(), 0, None
                    return await self._reload(key, entry)
                raw = raw[1:]
            self._apply(entry, raw)
            return entry.index

    async def _reload(self, key: str, entry: _Cached) -> SearchIndex:
        self._apply(entry, await self.redis.lrange(key, 0, -1))  # type: ignore[misc]
        return entry.index

    @staticmethod
    def _apply(entry: _Cached, raw: list[bytes | str]) -> None:
        index = entry.index
        for item in raw:
            change = views.parse_corpus_entry(item)
            if isinstance(change, SearchItem):
                index.add(change)
            else:
                index.remove(change)
        if raw:
            entry.applied += len(raw)
            entry.last = raw[-1]


def _dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def _match(item: SearchItem, score: float) -> MemoryMatch:
    created = _dt(item.created_at)
    assert created is not None
    return MemoryMatch(
        item_type=ItemType(item.item_type),
        id=item.id,
        kind=item.kind,
        text=item.text,
        score=score,
        session_id=item.session_id,
        agent=item.agent,
        visibility=Visibility(item.visibility),
        created_at=created,
        expires_at=_dt(item.expires_at),
    )


class ContextQueries:
    """What the gateway reads. Every method is scoped to one athlete: another athlete's
    session id behaves exactly like an unknown one."""

    def __init__(
        self, redis: Redis, keys: Keys, *, search: MemorySearch | None = None, clock: Clock = utcnow
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.memory_search = search or MemorySearch(redis, keys)
        self.clock = clock

    async def session(self, athlete_id: str, session_id: str) -> SessionView:
        raw = await self.redis.get(session_key(self.keys, session_id))
        return self._owned(raw, athlete_id, session_id)

    def _owned(self, raw: bytes | str | None, athlete_id: str, session_id: str) -> SessionView:
        if raw is None:
            raise session_not_found(session_id)
        view = SessionView.model_validate_json(raw)
        if view.athlete_id != athlete_id:
            raise session_not_found(session_id)
        return views.effective(view, self.clock())

    async def session_detail(
        self, athlete_id: str, session_id: str, *, agent: str, recent: int = 10
    ) -> SessionDetail:
        """The session, its conversation context and its `recent` last exchanges `agent` sees
        (looked for among the last 4 x `recent`, so private chatter of others cannot crowd
        them out entirely)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(session_key(self.keys, session_id))
            pipe.lrange(exchanges_key(self.keys, session_id), -4 * recent, -1)
            raw, exchanges = await pipe.execute()
        session = self._owned(raw, athlete_id, session_id)
        visible = [
            x
            for x in (ExchangeView.model_validate_json(r) for r in exchanges)
            if x.visibility is Visibility.SHARED or x.agent == agent
        ]
        return SessionDetail(session=session, recent_exchanges=visible[-recent:] if recent else [])

    async def sessions(
        self, athlete_id: str, *, active_only: bool = True, limit: int = 100, batch: int = 100
    ) -> SessionList:
        """Newest first; reads `batch` sessions per round trip until `limit` are found."""
        key, now = sessions_key(self.keys, athlete_id), self.clock()
        out: list[SessionView] = []
        start = 0
        while len(out) < limit:
            ids: list[bytes | str] = await self.redis.zrevrange(  # type: ignore[assignment]
                key, start, start + batch - 1
            )
            if not ids:
                break
            start += batch
            for raw in await self.redis.mget([session_key(self.keys, _str(i)) for i in ids]):
                if raw is None:
                    continue
                view = views.effective(SessionView.model_validate_json(raw), now)
                if view.athlete_id != athlete_id:
                    continue
                if active_only and view.status is not SessionStatus.ACTIVE:
                    continue
                out.append(view)
        return SessionList(sessions=out[:limit])

    async def preferences(self, athlete_id: str) -> PreferencesView:
        raw = await self.redis.get(prefs_key(self.keys, athlete_id))
        return PreferencesView.model_validate_json(raw) if raw else PreferencesView()

    async def memory_item(self, athlete_id: str, memory_id: str, *, agent: str) -> MemoryItemView:
        """One live memory item `agent` may see (NotFound otherwise)."""
        raw = await self.redis.hget(memory_key(self.keys, athlete_id), memory_id)  # type: ignore[misc]
        item = MemoryItemView.model_validate_json(raw) if raw else None
        if item is None or (item.visibility is Visibility.PRIVATE and item.agent != agent):
            raise memory_not_found(memory_id)
        return item

    async def memories(
        self, athlete_id: str, *, agent: str | None = None, kind: str | None = None
    ) -> list[MemoryItemView]:
        """Live memory items, newest first (`agent` None = every agent's, e.g. for insights)."""
        raws = await self.redis.hvals(memory_key(self.keys, athlete_id))  # type: ignore[misc]
        now = self.clock()
        items = [MemoryItemView.model_validate_json(r) for r in raws]
        live = [
            m
            for m in items
            if (kind is None or m.kind == kind)
            and (m.expires_at is None or m.expires_at > now)
            and (agent is None or m.visibility is Visibility.SHARED or m.agent == agent)
        ]
        return sorted(live, key=lambda m: m.created_at, reverse=True)

    async def search(
        self, athlete_id: str, query: SearchMemoryQuery, *, agent: str
    ) -> MemorySearchResult:
        if query.session_id is not None:
            await self.session(athlete_id, query.session_id)  # unknown/foreign: NotFound
        index = await self.memory_search.index(athlete_id)
        found = index.search(
            query.query,
            agent=agent,
            now=self.clock().timestamp(),
            limit=query.limit,
            kind=query.kind.value if query.kind is not None else None,
            session_id=query.session_id,
        )
        return MemorySearchResult(
            query=query.query, matches=[_match(item, score) for item, score in found]
        )


def _str(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
