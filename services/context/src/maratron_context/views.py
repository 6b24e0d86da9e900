"""Pure read-model transitions: event -> read-model shape (contracts), and the search corpus
entry format. Used by the projections (writing Redis) and the queries (reading it)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from maratron_contracts.context import (
    ConversationContextUpdated,
    ExchangeRecorded,
    ExchangeView,
    ItemType,
    MemoryItemView,
    MemoryRemembered,
    PreferencesSet,
    PreferencesView,
    SessionEnded,
    SessionExpired,
    SessionStarted,
    SessionStatus,
    SessionView,
)
from maratron_contracts.messages import Event

from maratron_context.search import SearchItem


def _joined(agents: list[str], agent: str) -> list[str]:
    return agents if agent in agents else [*agents, agent]


def started_view(event: SessionStarted, athlete_id: str) -> SessionView:
    return SessionView(
        session_id=event.session_id,
        athlete_id=athlete_id,
        title=event.title,
        status=SessionStatus.ACTIVE,
        started_by=event.agent,
        agents=[event.agent],
        started_at=event.started_at,
        last_activity_at=event.started_at,
        idle_timeout_seconds=event.idle_timeout_seconds,
        expires_at=event.started_at + timedelta(seconds=event.idle_timeout_seconds),
    )


def evolve_view(view: SessionView, event: Event) -> SessionView:
    """The session view after one more event of its stream (SessionStarted excluded)."""
    if isinstance(event, ExchangeRecorded | ConversationContextUpdated):
        update: dict[str, Any] = {
            "last_activity_at": event.at,
            "agents": _joined(view.agents, event.agent),
            "expires_at": event.at + timedelta(seconds=view.idle_timeout_seconds),
        }
        if isinstance(event, ExchangeRecorded):
            update["exchange_count"] = view.exchange_count + 1
        else:
            changes = event.model_dump(
                include={"topic", "mood", "mentioned_runs", "mentioned_goals"}, exclude_none=True
            )
            update["context"] = view.context.model_copy(
                update={**changes, "updated_at": event.at, "updated_by": event.agent}
            )
        return view.model_copy(update=update)
    if isinstance(event, SessionEnded):
        return view.model_copy(
            update={"status": SessionStatus.ENDED, "ended_at": event.at, "expires_at": None}
        )
    if isinstance(event, SessionExpired):
        return view.model_copy(
            update={"status": SessionStatus.EXPIRED, "ended_at": event.at, "expires_at": None}
        )
    return view


def effective(view: SessionView, now: datetime) -> SessionView:
    """Reads treat an overdue session as expired even before the sweeper records it."""
    expiry = view.expires_at
    if view.status is SessionStatus.ACTIVE and expiry is not None and now >= expiry:
        return view.model_copy(
            update={
                "status": SessionStatus.EXPIRED,
                "ended_at": view.expires_at,
                "expires_at": None,
            }
        )
    return view


def exchange_view(event: ExchangeRecorded) -> ExchangeView:
    return ExchangeView(
        exchange_id=event.exchange_id,
        session_id=event.session_id,
        agent=event.agent,
        visibility=event.visibility,
        user_message=event.user_message,
        ai_response=event.ai_response,
        intent=event.intent,
        sentiment=event.sentiment,
        recorded_at=event.at,
    )


def memory_view(event: MemoryRemembered) -> MemoryItemView:
    return MemoryItemView(
        memory_id=event.memory_id,
        kind=event.kind,
        text=event.text,
        session_id=event.session_id,
        agent=event.agent,
        visibility=event.visibility,
        created_at=event.at,
        expires_at=event.expires_at,
    )


def merged_preferences(view: PreferencesView, event: PreferencesSet) -> PreferencesView:
    changes = event.model_dump(
        include={"detail_level", "max_results", "coaching_tone", "language"}, exclude_none=True
    )
    return view.model_copy(update={**changes, "updated_at": event.at})


# -- search corpus entries ---------------------------------------------------------------------
# One compact JSON array per change, appended to the athlete's corpus log (a Redis list):
#   ["+", item_type, id, kind, text, agent, visibility, created_ts, session_id, expires_ts]
#   ["-", id]


def _ts(value: datetime | None) -> float | None:
    return None if value is None else value.astimezone(UTC).timestamp()


def corpus_add(event: ExchangeRecorded | MemoryRemembered) -> str:
    if isinstance(event, ExchangeRecorded):
        entry: list[Any] = [
            "+",
            ItemType.EXCHANGE.value,
            event.exchange_id,
            "exchange",
            f"{event.user_message}\n{event.ai_response}",
            event.agent,
            event.visibility.value,
            _ts(event.at),
            event.session_id,
            None,
        ]
    else:
        entry = [
            "+",
            ItemType.MEMORY.value,
            event.memory_id,
            event.kind.value,
            event.text,
            event.agent,
            event.visibility.value,
            _ts(event.at),
            event.session_id,
            _ts(event.expires_at),
        ]
    return json.dumps(entry, separators=(",", ":"))


def corpus_remove(item_id: str) -> str:
    return json.dumps(["-", item_id], separators=(",", ":"))


def parse_corpus_entry(raw: bytes | str) -> SearchItem | str:
    """A SearchItem to add, or the id of an item to remove."""
    entry = json.loads(raw)
    if entry[0] == "-":
        return str(entry[1])
    _, item_type, item_id, kind, text, agent, visibility, created, session_id, expires = entry
    return SearchItem(
        item_type=item_type,
        id=item_id,
        kind=kind,
        text=text,
        agent=agent,
        visibility=visibility,
        created_at=created,
        session_id=session_id,
        expires_at=expires,
    )
