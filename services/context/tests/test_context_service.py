"""Integration tests of the context service against the real stack (NATS, Postgres, Redis)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from maratron_context.app import build_app
from maratron_context.projections import corpus_key
from maratron_context.queries import ContextQueries
from maratron_context.settings import ContextSettings
from maratron_contracts.context import (
    EndSession,
    ExpireSession,
    Forget,
    RecordExchange,
    Remember,
    SearchMemoryQuery,
    SessionStatus,
    SetPreferences,
    StartSession,
    UpdateConversationContext,
    session_stream,
)
from maratron_contracts.envelope import Actor, Outcome
from maratron_contracts.errors import Conflict, Forbidden, NotFound, ValidationFailed
from maratron_contracts.messages import Command
from maratron_projections import Keys, Projector
from maratron_service.app import ServiceApp
from maratron_service.testing import drop_namespace, running_app, settings_for
from maratron_testing.plugin import StackUrls

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def app(maratron_stack: StackUrls) -> AsyncIterator[ServiceApp]:
    settings = settings_for(maratron_stack, ContextSettings)  # type: ignore[arg-type]
    async with running_app(build_app, settings) as running:
        yield running


@pytest.fixture
def athlete() -> str:
    return f"ath-{uuid.uuid4().hex[:10]}"


def actor(subject: str, client: str = "claude") -> Actor:
    return Actor(subject=subject, client_id=client, auth_method="jwt")


def queries(app: ServiceApp) -> ContextQueries:
    return ContextQueries(app.redis, app.keys)


async def send(
    app: ServiceApp, cmd: Command, athlete: str, client: str = "claude", **kw: Any
) -> Outcome:
    assert app.client is not None
    return await app.client.send("context", cmd, athlete, actor(athlete, client), **kw)


async def start(app: ServiceApp, athlete: str, **kw: Any) -> str:
    return str((await send(app, StartSession(**kw), athlete)).data["session_id"])


async def test_session_lifecycle_and_read_your_writes(app: ServiceApp, athlete: str) -> None:
    sid = await start(app, athlete, title="Marathon block")
    assert len(sid) >= 32
    await send(
        app,
        UpdateConversationContext(session_id=sid, topic="taper", mentioned_goals=["sub-3"]),
        athlete,
    )
    out = await send(
        app,
        RecordExchange(
            session_id=sid, user_message="How was my week?", ai_response="Strong: 62 km."
        ),
        athlete,
        "cursor",
    )
    detail = await queries(app).session_detail(athlete, sid, agent="claude")
    assert detail.session.status is SessionStatus.ACTIVE
    assert detail.session.agents == ["claude", "cursor"]
    assert detail.session.exchange_count == 1
    assert detail.session.context.topic == "taper"
    assert detail.session.context.mentioned_goals == ["sub-3"]
    [x] = detail.recent_exchanges
    assert (x.exchange_id, x.agent) == (out.data["exchange_id"], "cursor")

    await send(app, EndSession(session_id=sid), athlete)
    assert (await queries(app).session(athlete, sid)).status is SessionStatus.ENDED
    assert (await queries(app).sessions(athlete)).sessions == []
    assert [
        s.session_id for s in (await queries(app).sessions(athlete, active_only=False)).sessions
    ] == [sid]
    newer = [await start(app, athlete) for _ in range(3)]
    paged = await queries(app).sessions(athlete, active_only=False, limit=3, batch=2)
    assert [s.session_id for s in paged.sessions] == newer[::-1]
    active = await queries(app).sessions(athlete, batch=1)
    assert [s.session_id for s in active.sessions] == newer[::-1]
    with pytest.raises(Conflict, match="ended"):
        await send(app, RecordExchange(session_id=sid, user_message="a", ai_response="b"), athlete)


async def test_another_athletes_session_is_exactly_unknown(app: ServiceApp, athlete: str) -> None:
    sid = await start(app, athlete)
    other = f"{athlete}-other"
    head = await app.store.head()
    messages = []
    for session_id in (sid, "no-such-session"):
        with pytest.raises(NotFound) as caught:
            await send(
                app,
                RecordExchange(session_id=session_id, user_message="hi", ai_response="hello"),
                other,
            )
        messages.append(caught.value.message.replace(session_id, "<id>"))
        with pytest.raises(NotFound) as read:
            await queries(app).session(other, session_id)
        messages.append(read.value.message.replace(session_id, "<id>"))
    assert len(set(messages)) == 1
    with pytest.raises(NotFound):
        await send(app, Remember(text="x", kind="note", session_id=sid), other)
    assert await app.store.head() == head  # nothing appended


async def test_retried_command_is_applied_once(app: ServiceApp, athlete: str) -> None:
    command_id = uuid.uuid4()
    first = await send(app, StartSession(title="Secret plan"), athlete, command_id=command_id)
    again = await send(app, StartSession(title="Secret plan"), athlete, command_id=command_id)
    assert first.data == again.data == {"session_id": first.data["session_id"]}  # ids only:
    # the command record is not encrypted, so no personal text may go there
    events = await app.store.read_stream(session_stream(str(first.data["session_id"])))
    assert [e.event_type for e in events] == ["SessionStarted"]
    assert (await queries(app).sessions(athlete)).sessions[0].session_id == first.data["session_id"]


async def test_memory_search_visibility_and_forget(app: ServiceApp, athlete: str) -> None:
    sid = await start(app, athlete)
    goal = await send(app, Remember(text="Run Berlin marathon under 3 hours", kind="goal"), athlete)
    injury = await send(
        app,
        Remember(text="Left achilles tendon sore after hills", kind="injury", session_id=sid),
        athlete,
    )
    secret = await send(
        app,
        Remember(text="Achilles worries me more than I admit", kind="note", visibility="private"),
        athlete,
        "cursor",
    )
    await send(
        app,
        RecordExchange(
            session_id=sid, user_message="My achilles hurts", ai_response="Ease off the hills"
        ),
        athlete,
    )
    q = queries(app)
    found = await q.search(athlete, SearchMemoryQuery(query="tendon achiles"), agent="claude")
    assert found.matches[0].id == injury.data["memory_id"]
    assert found.matches[0].score > 90
    ids = {
        m.id
        for m in (
            await q.search(athlete, SearchMemoryQuery(query="achilles"), agent="claude")
        ).matches
    }
    assert secret.data["memory_id"] not in ids and injury.data["memory_id"] in ids
    ids_cursor = {
        m.id
        for m in (
            await q.search(athlete, SearchMemoryQuery(query="achilles"), agent="cursor")
        ).matches
    }
    assert secret.data["memory_id"] in ids_cursor
    exchanges = await q.search(
        athlete, SearchMemoryQuery(query="achilles", kind="exchange"), agent="claude"
    )
    assert [m.item_type.value for m in exchanges.matches] == ["exchange"]
    in_session = await q.search(
        athlete, SearchMemoryQuery(query="achilles", session_id=sid), agent="claude"
    )
    assert {m.session_id for m in in_session.matches} == {sid}
    assert (
        await q.search(f"{athlete}-x", SearchMemoryQuery(query="achilles"), agent="claude")
    ).matches == []

    # a private item of another agent cannot be forgotten (it is invisible): not found
    with pytest.raises(NotFound):
        await send(app, Forget(memory_id=str(secret.data["memory_id"])), athlete, "claude")
    await send(app, Forget(memory_id=str(goal.data["memory_id"])), athlete)
    assert (
        await q.search(athlete, SearchMemoryQuery(query="berlin"), agent="claude")
    ).matches == []
    with pytest.raises(NotFound):
        await send(app, Forget(memory_id=str(goal.data["memory_id"])), athlete)
    assert [m.kind for m in await q.memories(athlete, agent="claude")] == ["injury"]
    item = await q.memory_item(athlete, str(injury.data["memory_id"]), agent="claude")
    assert item.text.startswith("Left achilles")
    with pytest.raises(NotFound):
        await q.memory_item(athlete, str(secret.data["memory_id"]), agent="claude")
    with pytest.raises(NotFound):
        await q.memory_item(f"{athlete}-x", str(injury.data["memory_id"]), agent="claude")


async def test_expired_memory_is_not_returned(app: ServiceApp, athlete: str) -> None:
    soon = datetime.now(UTC) + timedelta(seconds=0.5)
    await send(app, Remember(text="taper week starts now", kind="note", expires_at=soon), athlete)
    await send(app, Remember(text="taper week was great", kind="note"), athlete)
    q, query = queries(app), SearchMemoryQuery(query="taper week")
    assert len((await q.search(athlete, query, agent="claude")).matches) == 2
    deadline = time.monotonic() + 10
    while len((await q.search(athlete, query, agent="claude")).matches) != 1:
        assert time.monotonic() < deadline, "the expired item is still returned"
        await asyncio.sleep(0.05)
    [left] = (await q.search(athlete, query, agent="claude")).matches
    assert left.text == "taper week was great"
    assert [m.text for m in await q.memories(athlete)] == ["taper week was great"]


async def test_bad_input_is_refused_and_appends_nothing(app: ServiceApp, athlete: str) -> None:
    sid = await start(app, athlete)
    head = await app.store.head()
    assert app.client is not None
    bad: list[tuple[str, dict[str, Any]]] = [
        ("record_exchange", {"session_id": sid, "user_message": "x" * 10_001, "ai_response": "ok"}),
        ("remember", {"text": "x", "kind": "mood"}),
        ("remember", {"text": "", "kind": "note"}),
        ("set_preferences", {"max_results": 0}),
        ("set_preferences", {}),
        ("update_conversation_context", {"session_id": sid}),
    ]
    for name, payload in bad:
        envelope = app.client.envelope(StartSession(), athlete, actor(athlete))
        envelope = envelope.model_copy(update={"command": name, "payload": payload})
        reply = await app.client.request("context", envelope)
        assert not reply.ok and reply.error is not None, name
        assert reply.error.code.value == "validation", (name, reply.error)
    with pytest.raises(ValidationFailed, match="past"):
        await send(app, Remember(text="x", kind="note", expires_at="2020-01-01T00:00:00Z"), athlete)  # type: ignore[arg-type]
    with pytest.raises(Forbidden):
        await send(app, ExpireSession(session_id=sid), athlete)
    assert await app.store.head() == head


async def test_preferences_merge(app: ServiceApp, athlete: str) -> None:
    out = await send(app, SetPreferences(detail_level="brief", max_results=3), athlete)
    assert out.data == {"changed": True}
    await send(app, SetPreferences(coaching_tone="direct"), athlete)
    assert (await send(app, SetPreferences(max_results=3), athlete)).data == {"changed": False}
    prefs = await queries(app).preferences(athlete)
    assert (prefs.detail_level.value, prefs.max_results, prefs.coaching_tone) == (
        "brief",
        3,
        "direct",
    )
    assert (await queries(app).preferences(f"{athlete}-new")).max_results == 10


async def test_idle_session_expires_by_event(maratron_stack: StackUrls, namespace: str) -> None:
    try:
        await _idle_session_expires_by_event(maratron_stack, namespace)
    finally:
        await drop_namespace(maratron_stack, namespace)  # type: ignore[arg-type]


async def _idle_session_expires_by_event(maratron_stack: StackUrls, namespace: str) -> None:
    settings = settings_for(
        maratron_stack,
        ContextSettings,
        namespace,  # type: ignore[arg-type]
        session_idle_seconds=0.5,
        sweep_interval_s=0.05,
    )
    async with running_app(build_app, settings) as short:
        athlete = "ath-idle"
        sid = await start(short, athlete)
        live = await start(short, athlete)

        async def expired_event() -> bool:
            events = await short.store.read_stream(session_stream(sid))
            return [e.event_type for e in events][-1] == "SessionExpired"

        # keep `live` busy while `sid` idles out
        deadline = time.monotonic() + 10
        while not await expired_event():
            assert time.monotonic() < deadline
            await send(short, UpdateConversationContext(session_id=live, mood="ok"), athlete)
            await asyncio.sleep(0.05)
        view = await queries(short).session(athlete, sid)
        assert view.status is SessionStatus.EXPIRED and view.ended_at is not None
        assert (await queries(short).session(athlete, live)).status is SessionStatus.ACTIVE
        head = await short.store.head()
        with pytest.raises(Conflict, match="expired"):
            await send(
                short, RecordExchange(session_id=sid, user_message="a", ai_response="b"), athlete
            )
        assert await short.store.head() == head
        # exactly one expiry event although the sweeper keeps running
        events = await short.store.read_stream(session_stream(sid))
        assert [e.event_type for e in events].count("SessionExpired") == 1
        assert events[-1].metadata.actor is not None
        assert events[-1].metadata.actor.subject == "system:context-sweeper"


async def test_replay_rebuilds_the_same_read_models(app: ServiceApp, athlete: str) -> None:
    sid = await start(app, athlete, title="replay")
    await send(app, RecordExchange(session_id=sid, user_message="q", ai_response="a"), athlete)
    mem = await send(app, Remember(text="tempo on tuesdays", kind="note"), athlete)
    await send(app, SetPreferences(language="fr"), athlete)
    assert app.projector is not None
    rebuilt = Keys(app.keys.namespace, f"r{uuid.uuid4().hex[:6]}")
    projector = Projector(app.redis, app.store, app.projector.projections, rebuilt, name="replay")
    await projector.catch_up()
    live, fresh = queries(app), ContextQueries(app.redis, rebuilt)
    assert await live.session_detail(athlete, sid, agent="claude") == await fresh.session_detail(
        athlete, sid, agent="claude"
    )
    assert await live.preferences(athlete) == await fresh.preferences(athlete)
    query = SearchMemoryQuery(query="tempo tuesday")
    assert (await fresh.search(athlete, query, agent="claude")).matches[0].id == mem.data[
        "memory_id"
    ]
    assert await live.search(athlete, query, agent="claude") == await fresh.search(
        athlete, query, agent="claude"
    )


async def test_search_cache_notices_a_rebuilt_corpus(app: ServiceApp, athlete: str) -> None:
    q = queries(app)
    await send(app, Remember(text="hill repeats on thursday", kind="note"), athlete)
    assert len((await q.search(athlete, SearchMemoryQuery(query="hill"), agent="a")).matches) == 1
    await app.redis.delete(corpus_key(app.keys, athlete))  # Redis flushed ...
    assert (await q.search(athlete, SearchMemoryQuery(query="hill"), agent="a")).matches == []
    again = await send(app, Remember(text="hill sprints", kind="note"), athlete)  # ... refilled
    found = await q.search(athlete, SearchMemoryQuery(query="hill"), agent="a")
    assert [m.id for m in found.matches] == [again.data["memory_id"]]
