"""Unit tests of the pure context deciders (no stack)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import reduce

import pytest
from maratron_context.domain import (
    Given,
    MemoryState,
    PreferencesState,
    SessionState,
    decide_forget,
    decide_preferences,
    decide_remember,
    decide_session,
    evolve_memory,
    evolve_preferences,
    evolve_session,
)
from maratron_contracts.context import (
    ConversationContextUpdated,
    EndSession,
    ExchangeRecorded,
    ExpireSession,
    Forget,
    MemoryForgotten,
    MemoryKind,
    MemoryRemembered,
    PreferencesSet,
    RecordExchange,
    Remember,
    SessionEnded,
    SessionExpired,
    SessionStarted,
    SessionStatus,
    SetPreferences,
    StartSession,
    UpdateConversationContext,
    Visibility,
)
from maratron_contracts.errors import Conflict, NotFound, ValidationFailed
from maratron_contracts.messages import Event
from pydantic import ValidationError

T0 = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
SID = "s-abc"


def given(at: datetime = T0, agent: str = "claude", new_id: str = "", idle: float = 600) -> Given:
    return Given(now=at, agent=agent, new_id=new_id, idle_timeout_seconds=idle)


def fold_session(events: Iterable[Event]) -> SessionState:
    return reduce(evolve_session, events, SessionState())


def started(idle: float = 600) -> SessionState:
    return fold_session(
        decide_session(StartSession(title="Plan"), SessionState(), given(new_id=SID, idle=idle))
    )


def decisive(state: SessionState) -> tuple[object, ...]:
    """What decisions depend on."""
    return (state.session_id, state.exists, state.status, state.expires_at())


def exchange(session_id: str = SID, **kw: object) -> RecordExchange:
    return RecordExchange.model_validate(
        {"session_id": session_id, "user_message": "how far?", "ai_response": "10 km", **kw}
    )


class TestSession:
    def test_start_records_id_agent_and_timeout(self) -> None:
        [ev] = decide_session(
            StartSession(title="Plan", agent="x"), SessionState(), given(new_id=SID, idle=90)
        )
        assert isinstance(ev, SessionStarted)
        assert (ev.session_id, ev.agent, ev.idle_timeout_seconds, ev.title) == (
            SID,
            "claude",
            90,
            "Plan",
        )
        state = evolve_session(SessionState(), ev)
        assert state.exists and state.expires_at() == T0 + timedelta(seconds=90)

    def test_exchange_extends_idle_expiry_and_joins_agent(self) -> None:
        state = started()
        later = T0 + timedelta(seconds=500)
        [ev] = decide_session(
            exchange(visibility="private"), state, given(later, agent="cursor", new_id="x1")
        )
        assert isinstance(ev, ExchangeRecorded)
        assert (ev.exchange_id, ev.agent, ev.visibility) == ("x1", "cursor", Visibility.PRIVATE)
        state = evolve_session(state, ev)
        assert state.expires_at() == later + timedelta(seconds=600)

    def test_unknown_session_is_not_found(self) -> None:
        with pytest.raises(NotFound, match="start_session"):
            decide_session(exchange(), SessionState(), given(new_id="x"))
        with pytest.raises(NotFound):
            decide_session(EndSession(session_id=SID), SessionState(), given())

    def test_overdue_session_refuses_writes_before_the_sweeper_ran(self) -> None:
        state = started(idle=60)
        late = T0 + timedelta(seconds=60)
        assert state.effective_status(late) is SessionStatus.EXPIRED
        with pytest.raises(Conflict, match="expired"):
            decide_session(exchange(), state, given(late, new_id="x"))
        with pytest.raises(Conflict, match="expired"):
            decide_session(UpdateConversationContext(session_id=SID, topic="t"), state, given(late))

    def test_expire_is_a_noop_until_overdue_then_records_last_activity(self) -> None:
        state = started(idle=60)
        assert (
            decide_session(ExpireSession(session_id=SID), state, given(T0 + timedelta(seconds=59)))
            == []
        )
        [ev] = decide_session(
            ExpireSession(session_id=SID), state, given(T0 + timedelta(seconds=61))
        )
        assert isinstance(ev, SessionExpired) and ev.last_activity_at == T0
        state = evolve_session(state, ev)
        assert state.status is SessionStatus.EXPIRED and state.expires_at() is None
        # a second sweep (another replica) finds nothing to do
        assert (
            decide_session(ExpireSession(session_id=SID), state, given(T0 + timedelta(seconds=99)))
            == []
        )
        assert decide_session(ExpireSession(session_id="nope"), SessionState(), given()) == []

    def test_end_is_idempotent_and_closes_the_session(self) -> None:
        state = started()
        [ev] = decide_session(EndSession(session_id=SID), state, given())
        assert isinstance(ev, SessionEnded)
        state = evolve_session(state, ev)
        assert decide_session(EndSession(session_id=SID), state, given()) == []
        with pytest.raises(Conflict, match="ended"):
            decide_session(exchange(), state, given(new_id="x"))

    def test_context_update_keeps_only_given_fields(self) -> None:
        [ev] = decide_session(
            UpdateConversationContext(session_id=SID, topic="taper", mentioned_runs=["r1"]),
            started(),
            given(),
        )
        assert isinstance(ev, ConversationContextUpdated)
        assert (ev.topic, ev.mood, ev.mentioned_runs, ev.mentioned_goals) == (
            "taper",
            None,
            ["r1"],
            None,
        )
        with pytest.raises(ValidationFailed, match="at least one"):
            decide_session(UpdateConversationContext(session_id=SID), started(), given())

    def test_command_validation_rejects_bad_input(self) -> None:
        with pytest.raises(ValidationError):
            exchange(user_message="x" * 10_001)
        with pytest.raises(ValidationError):
            exchange(user_message="   ")
        with pytest.raises(ValidationError):
            exchange(visibility="secret")

    def test_the_last_event_alone_rebuilds_the_decision_state(self) -> None:
        """The handler loads only a session's last event: it must equal the full fold."""
        history: list[Event] = decide_session(
            StartSession(), SessionState(), given(new_id=SID, idle=90)
        )
        steps: list[tuple[object, float]] = [
            (exchange(), 10),
            (UpdateConversationContext(session_id=SID, mood="ok"), 20),
            (exchange(), 30),
            (EndSession(session_id=SID), 40),
        ]
        for cmd, offset in steps:
            history += decide_session(
                cmd,  # type: ignore[arg-type]
                fold_session(history),
                given(T0 + timedelta(seconds=offset), new_id="x"),
            )
            assert decisive(evolve_session(SessionState(), history[-1])) == decisive(
                fold_session(history)
            )
        expired = fold_session(history[:-1])
        [gone] = decide_session(
            ExpireSession(session_id=SID), expired, given(T0 + timedelta(hours=1))
        )
        assert decisive(evolve_session(SessionState(), gone)) == decisive(
            evolve_session(expired, gone)
        )


class TestPreferences:
    def test_set_merges_and_repeating_is_a_noop(self) -> None:
        state = PreferencesState()
        events = decide_preferences(
            SetPreferences(detail_level="brief", max_results=5), state, given()
        )
        state = reduce(evolve_preferences, events, state)
        events = decide_preferences(SetPreferences(coaching_tone="tough love"), state, given())
        [ev] = events
        assert isinstance(ev, PreferencesSet) and ev.detail_level is None
        state = reduce(evolve_preferences, events, state)
        assert state.values == {
            "detail_level": "brief",
            "max_results": 5,
            "coaching_tone": "tough love",
        }
        assert decide_preferences(SetPreferences(max_results=5), state, given()) == []

    def test_bad_preferences_are_refused(self) -> None:
        with pytest.raises(ValidationFailed):
            decide_preferences(SetPreferences(), PreferencesState(), given())
        for bad in ({"max_results": 0}, {"max_results": 101}, {"detail_level": "verbose"}):
            with pytest.raises(ValidationError):
                SetPreferences.model_validate(bad)


class TestMemory:
    def test_remember_in_an_active_session(self) -> None:
        cmd = Remember(
            text="Sub-3 in Berlin", kind="goal", session_id=SID, expires_at=T0 + timedelta(days=30)
        )
        [ev] = decide_remember(cmd, MemoryState(), given(new_id="m1"), started())
        assert isinstance(ev, MemoryRemembered)
        assert (ev.memory_id, ev.kind, ev.agent, ev.visibility) == (
            "m1",
            MemoryKind.GOAL,
            "claude",
            Visibility.SHARED,
        )

    def test_remember_refuses_unknown_or_expired_session_and_past_expiry(self) -> None:
        with pytest.raises(NotFound):
            decide_remember(
                Remember(text="x", kind="note", session_id=SID),
                MemoryState(),
                given(new_id="m1"),
                SessionState(),
            )
        with pytest.raises(Conflict, match="expired"):
            decide_remember(
                Remember(text="x", kind="note", session_id=SID),
                MemoryState(),
                given(T0 + timedelta(hours=1), new_id="m1"),
                started(idle=60),
            )
        with pytest.raises(ValidationFailed, match="past"):
            decide_remember(
                Remember(text="x", kind="note", expires_at=T0),
                MemoryState(),
                given(new_id="m1"),
                None,
            )
        with pytest.raises(ValidationError):
            Remember(text="x", kind="mood")

    def test_forget_once_and_private_items_of_other_agents_are_invisible(self) -> None:
        [ev] = decide_remember(
            Remember(text="left knee", kind="injury", visibility="private"),
            MemoryState(),
            given(new_id="m1"),
            None,
        )
        state = evolve_memory(MemoryState(), ev)
        with pytest.raises(NotFound):
            decide_forget(Forget(memory_id="m1"), state, given(agent="cursor"))
        [gone] = decide_forget(Forget(memory_id="m1"), state, given(agent="claude"))
        assert isinstance(gone, MemoryForgotten)
        state = evolve_memory(state, gone)
        with pytest.raises(NotFound):
            decide_forget(Forget(memory_id="m1"), state, given(agent="claude"))
        with pytest.raises(NotFound):
            decide_forget(Forget(memory_id="m2"), MemoryState(), given())
