"""Redis read models of the context service (keys under `Keys(namespace)`):

  context:session:{sid}            STRING  SessionView JSON (status as recorded by events)
  context:session:{sid}:exchanges  LIST    ExchangeView JSON, oldest first
  context:sessions:{athlete}       ZSET    session ids by start time
  context:active-sessions          ZSET    active session ids by idle-expiry time (the sweeper)
  context:prefs:{athlete}          STRING  PreferencesView JSON
  context:memory:{athlete}         HASH    memory_id -> MemoryItemView JSON
  context:corpus:{athlete}         LIST    search corpus change log (see `views.corpus_add`)

Every write of one event happens in the runner's MULTI with the stream's applied marker, so an
event is applied exactly once even when the inline and catch-up projectors race.
"""

from __future__ import annotations

from datetime import UTC

from maratron_contracts.context import (
    ConversationContextUpdated,
    ExchangeRecorded,
    MemoryForgotten,
    MemoryRemembered,
    PreferencesSet,
    PreferencesView,
    SessionEnded,
    SessionExpired,
    SessionStarted,
    SessionView,
)
from maratron_contracts.envelope import RecordedEvent
from maratron_contracts.registry import REGISTRY, Registry
from maratron_projections import Keys, Projection
from redis.asyncio.client import Pipeline

from maratron_context import views


def session_key(keys: Keys, session_id: str) -> str:
    return keys("context", "session", session_id)


def exchanges_key(keys: Keys, session_id: str) -> str:
    return keys("context", "session", session_id, "exchanges")


def sessions_key(keys: Keys, athlete_id: str) -> str:
    return keys("context", "sessions", athlete_id)


def active_sessions_key(keys: Keys) -> str:
    return keys("context", "active-sessions")


def prefs_key(keys: Keys, athlete_id: str) -> str:
    return keys("context", "prefs", athlete_id)


def memory_key(keys: Keys, athlete_id: str) -> str:
    return keys("context", "memory", athlete_id)


def corpus_key(keys: Keys, athlete_id: str) -> str:
    return keys("context", "corpus", athlete_id)


class SessionProjection:
    name = "context.sessions"
    event_types = frozenset(
        {
            SessionStarted.event_type,
            ConversationContextUpdated.event_type,
            ExchangeRecorded.event_type,
            SessionEnded.event_type,
            SessionExpired.event_type,
        }
    )

    def __init__(self, registry: Registry = REGISTRY) -> None:
        self.registry = registry

    async def apply(self, event: RecordedEvent, pipe: Pipeline, keys: Keys) -> None:
        ev = self.registry.decode(event.event_type, event.schema_version, event.data)
        sid = ev.session_id  # type: ignore[attr-defined]
        key = session_key(keys, sid)
        if isinstance(ev, SessionStarted):
            view = views.started_view(ev, event.athlete_id)
        else:
            raw = await pipe.get(key)
            if raw is None:  # the view was flushed mid-stream: nothing sensible to patch
                return
            view = views.evolve_view(SessionView.model_validate_json(raw), ev)
        pipe.multi()  # type: ignore[no-untyped-call]
        pipe.set(key, view.model_dump_json())
        if isinstance(ev, SessionStarted):
            pipe.zadd(sessions_key(keys, event.athlete_id), {sid: ev.started_at.timestamp()})
        if view.expires_at is not None:
            pipe.zadd(active_sessions_key(keys), {sid: view.expires_at.astimezone(UTC).timestamp()})
        else:
            pipe.zrem(active_sessions_key(keys), sid)
        if isinstance(ev, ExchangeRecorded):
            pipe.rpush(exchanges_key(keys, sid), views.exchange_view(ev).model_dump_json())


class PreferencesProjection:
    name = "context.preferences"
    event_types = frozenset({PreferencesSet.event_type})

    def __init__(self, registry: Registry = REGISTRY) -> None:
        self.registry = registry

    async def apply(self, event: RecordedEvent, pipe: Pipeline, keys: Keys) -> None:
        ev = self.registry.decode(event.event_type, event.schema_version, event.data)
        assert isinstance(ev, PreferencesSet)
        key = prefs_key(keys, event.athlete_id)
        raw = await pipe.get(key)
        current = PreferencesView.model_validate_json(raw) if raw else PreferencesView()
        pipe.multi()  # type: ignore[no-untyped-call]
        pipe.set(key, views.merged_preferences(current, ev).model_dump_json())


class MemoryProjection:
    """Memory items by id (for listings such as goals in a coaching snapshot)."""

    name = "context.memory"
    event_types = frozenset({MemoryRemembered.event_type, MemoryForgotten.event_type})

    def __init__(self, registry: Registry = REGISTRY) -> None:
        self.registry = registry

    async def apply(self, event: RecordedEvent, pipe: Pipeline, keys: Keys) -> None:
        ev = self.registry.decode(event.event_type, event.schema_version, event.data)
        pipe.multi()  # type: ignore[no-untyped-call]
        key = memory_key(keys, event.athlete_id)
        if isinstance(ev, MemoryRemembered):
            pipe.hset(key, ev.memory_id, views.memory_view(ev).model_dump_json())
        elif isinstance(ev, MemoryForgotten):
            pipe.hdel(key, ev.memory_id)


class SearchCorpusProjection:
    """Appends every searchable change to the athlete's corpus log (`queries.MemorySearch`
    replays the log's new entries into an in-process index)."""

    name = "context.search"
    event_types = frozenset(
        {ExchangeRecorded.event_type, MemoryRemembered.event_type, MemoryForgotten.event_type}
    )

    def __init__(self, registry: Registry = REGISTRY) -> None:
        self.registry = registry

    async def apply(self, event: RecordedEvent, pipe: Pipeline, keys: Keys) -> None:
        ev = self.registry.decode(event.event_type, event.schema_version, event.data)
        pipe.multi()  # type: ignore[no-untyped-call]
        key = corpus_key(keys, event.athlete_id)
        if isinstance(ev, ExchangeRecorded | MemoryRemembered):
            pipe.rpush(key, views.corpus_add(ev))
        elif isinstance(ev, MemoryForgotten):
            pipe.rpush(key, views.corpus_remove(ev.memory_id))


def projections(registry: Registry = REGISTRY) -> list[Projection]:
    return [
        SessionProjection(registry),
        PreferencesProjection(registry),
        MemoryProjection(registry),
        SearchCorpusProjection(registry),
    ]
