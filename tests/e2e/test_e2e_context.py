"""Context tools end to end over real HTTP: sessions shared by agents, memory, fuzzy search,
preferences applied to output, idle expiry, and bad input that changes nothing."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from fastmcp import Client
from maratron_service.testing import drop_namespace
from maratron_testing.plugin import StackUrls, new_namespace

from tests.e2e.cluster import Cluster, runnable
from tests.e2e.conftest import Connect

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not runnable("maratron_context"), reason="context service not built"),
]


async def call(client: Client[Any], tool: str, **args: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    assert result.structured_content is not None
    return result.structured_content


async def refused(client: Client[Any], tool: str, **args: Any) -> str:
    """The error text of a call that must fail."""
    result = await client.call_tool(tool, args, raise_on_error=False)
    assert result.is_error, f"{tool} should have failed"
    return " ".join(getattr(block, "text", "") for block in result.content)


def text_of(result: Any) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


@pytest.fixture
async def events_of(maratron_stack: StackUrls) -> AsyncIterator[Any]:
    """`await events_of(namespace, athlete_id)` -> that athlete's events in the store."""
    conn = await asyncpg.connect(maratron_stack.database_url)

    async def count(namespace: str, athlete_id: str) -> list[str]:
        # the context service's streams only (the gateway audits rejected calls elsewhere)
        rows = await conn.fetch(
            f"SELECT event_type FROM {namespace}.events WHERE athlete_id = $1 "
            "AND split_part(stream_id, ':', 1) IN ('session', 'memory', 'prefs') "
            "ORDER BY global_position",
            athlete_id,
        )
        return [r["event_type"] for r in rows]

    yield count
    await conn.close()


async def test_session_memory_and_misspelled_search(
    connect: Connect, gateway_url: str, athlete_id: str
) -> None:
    async with connect(gateway_url, athlete_id, client_id="claude") as claude:
        session = await call(claude, "start_session", title="Berlin build-up")
        sid = session["session_id"]
        assert len(sid) >= 32 and session["status"] == "active"
        await call(
            claude,
            "record_exchange",
            session_id=sid,
            user_message="My left heel hurts after the hill session",
            ai_response="Sounds like the achilles: skip hills for a week.",
            intent="injury_check",
            sentiment="worried",
        )
        await call(
            claude,
            "record_exchange",
            session_id=sid,
            user_message="What pace for my long run?",
            ai_response="5:30/km, easy.",
        )
        goal = await call(
            claude, "remember", kind="goal", text="Run the Berlin marathon under three hours"
        )
        injury = await call(
            claude,
            "remember",
            kind="injury",
            session_id=sid,
            text="Left achilles tendon pain after hill repeats",
        )
        await call(claude, "remember", kind="note", text="Prefers morning runs before work")
        await call(
            claude,
            "update_conversation_context",
            session_id=sid,
            topic="injury",
            mood="worried",
            mentioned_goals=["sub-3 Berlin"],
        )

        found = await call(claude, "search_memory", query="tendn achiles")
        assert found["matches"][0]["id"] == injury["memory_id"]
        assert found["matches"][0]["score"] >= 80
        found = await call(claude, "search_memory", query="marathn berlin", kind="goal")
        assert [m["id"] for m in found["matches"]] == [goal["memory_id"]]
        exchanges = await call(claude, "search_memory", query="long run pace", kind="exchange")
        assert exchanges["matches"][0]["item_type"] == "exchange"

        detail = await call(claude, "get_session", session_id=sid)
        assert detail["session"]["exchange_count"] == 2
        assert detail["session"]["context"]["topic"] == "injury"
        assert [x["user_message"][:7] for x in detail["recent_exchanges"]] == ["My left", "What pa"]
        [resource] = await claude.read_resource(f"sessions://{sid}")
        assert json.loads(getattr(resource, "text", ""))["session"]["session_id"] == sid
        listed = await call(claude, "list_sessions")
        assert [s["session_id"] for s in listed["sessions"]] == [sid]

        await call(claude, "forget", memory_id=goal["memory_id"])
        found = await call(claude, "search_memory", query="berlin marathon", kind="goal")
        assert found["matches"] == []
        ended = await call(claude, "end_session", session_id=sid)
        assert ended["status"] == "ended"


async def test_agents_share_a_session_but_not_private_items(
    connect: Connect, cluster: Cluster, athlete_id: str
) -> None:
    first, second = cluster.gateway_urls[0], cluster.gateway_urls[-1]
    async with (
        connect(first, athlete_id, client_id="claude") as claude,
        connect(second, athlete_id, client_id="cursor") as cursor,
    ):
        sid = (await call(claude, "start_session"))["session_id"]
        await call(
            claude,
            "record_exchange",
            session_id=sid,
            user_message="shared question",
            ai_response="shared answer about intervals",
        )
        await call(
            claude,
            "record_exchange",
            session_id=sid,
            visibility="private",
            user_message="private question",
            ai_response="private intervals answer",
        )
        secret = await call(
            claude,
            "remember",
            kind="note",
            visibility="private",
            text="Interval sessions make him anxious",
        )
        shared = await call(claude, "remember", kind="note", text="Interval sessions on Tuesday")
        await call(
            cursor,
            "record_exchange",
            session_id=sid,
            user_message="cursor here",
            ai_response="cursor intervals answer",
        )

        seen = await call(cursor, "get_session", session_id=sid)
        assert seen["session"]["agents"] == ["claude", "cursor"]
        assert [x["user_message"] for x in seen["recent_exchanges"]] == [
            "shared question",
            "cursor here",
        ]
        cursor_ids = {
            m["id"]
            for m in (await call(cursor, "search_memory", query="interval sessions"))["matches"]
        }
        assert shared["memory_id"] in cursor_ids and secret["memory_id"] not in cursor_ids
        claude_ids = {
            m["id"]
            for m in (await call(claude, "search_memory", query="interval sessions"))["matches"]
        }
        assert {shared["memory_id"], secret["memory_id"]} <= claude_ids
        # an explicit agent parameter names the agent when the token has none of its own
        other = await call(claude, "search_memory", query="interval sessions", agent="chatgpt")
        assert secret["memory_id"] not in {m["id"] for m in other["matches"]}
        assert "not found" in await refused(cursor, "forget", memory_id=secret["memory_id"])


async def test_another_athlete_sees_nothing(
    connect: Connect, gateway_url: str, athlete_id: str, events_of: Any, cluster: Cluster
) -> None:
    async with connect(gateway_url, athlete_id) as owner:
        sid = (await call(owner, "start_session", title="mine"))["session_id"]
        memory = await call(owner, "remember", kind="injury", text="Plantar fasciitis, right foot")
    intruder_id = f"{athlete_id}-x"
    before = await events_of(cluster.namespace, athlete_id)
    async with connect(gateway_url, intruder_id) as intruder:
        assert (await call(intruder, "search_memory", query="plantar fasciitis"))["matches"] == []
        assert (await call(intruder, "list_sessions", active_only=False))["sessions"] == []
        errors = []
        for session_id in (sid, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"):
            for tool, args in (
                ("get_session", {}),
                ("record_exchange", {"user_message": "hi", "ai_response": "hello"}),
                ("end_session", {}),
                ("update_conversation_context", {"topic": "x"}),
            ):
                msg = await refused(intruder, tool, session_id=session_id, **args)
                errors.append((tool, msg.replace(session_id, "<id>")))
        assert len(set(errors)) == 4  # one message per tool, the same for foreign and unknown
        assert "not found" in await refused(intruder, "forget", memory_id=memory["memory_id"])
    assert await events_of(cluster.namespace, intruder_id) == []
    assert await events_of(cluster.namespace, athlete_id) == before


async def test_bad_input_is_explained_and_changes_nothing(
    connect: Connect, gateway_url: str, athlete_id: str, events_of: Any, cluster: Cluster
) -> None:
    async with connect(gateway_url, athlete_id) as client:
        sid = (await call(client, "start_session"))["session_id"]
        ended = (await call(client, "start_session"))["session_id"]
        await call(client, "end_session", session_id=ended)
        before = await events_of(cluster.namespace, athlete_id)
        assert "query" in await refused(client, "search_memory", query="")
        assert "query" in await refused(client, "search_memory", query="   ")
        long = "x" * 10_001
        assert "user_message" in await refused(
            client, "record_exchange", session_id=sid, user_message=long, ai_response="ok"
        )
        assert "text" in await refused(client, "remember", text=long, kind="note")
        assert "kind" in await refused(client, "remember", text="hi", kind="mood")
        assert "kind" in await refused(client, "search_memory", query="hi", kind="mood")
        assert "max_results" in await refused(client, "set_preferences", max_results=101)
        assert "past" in await refused(
            client, "remember", text="hi", kind="note", expires_at="2020-01-01T00:00:00Z"
        )
        assert "ended" in await refused(
            client, "record_exchange", session_id=ended, user_message="a", ai_response="b"
        )
        assert "start_session" in await refused(
            client, "record_exchange", session_id="nope", user_message="a", ai_response="b"
        )
        assert "at least one" in await refused(
            client, "update_conversation_context", session_id=sid
        )
        assert await events_of(cluster.namespace, athlete_id) == before


async def test_preferences_shape_every_tools_output(
    connect: Connect, gateway_url: str, athlete_id: str
) -> None:
    async with connect(gateway_url, athlete_id) as client:
        for i in range(3):
            await call(client, "start_session", title=f"session {i}")
        assert len((await call(client, "list_sessions"))["sessions"]) == 3
        prefs = await call(
            client,
            "set_preferences",
            max_results=2,
            detail_level="brief",
            coaching_tone="encouraging",
        )
        assert (prefs["max_results"], prefs["detail_level"]) == (2, "brief")
        result = await client.call_tool("list_sessions", {})
        assert result.structured_content is not None
        assert len(result.structured_content["sessions"]) == 2
        assert "max_results" in text_of(result) and text_of(result).count("\n") == 1
        assert (await call(client, "get_preferences"))["coaching_tone"] == "encouraging"


# -- idle expiry: a cluster of its own with a short idle timeout --------------------------------


@pytest.fixture(scope="module")
def short_idle_cluster(maratron_stack: StackUrls) -> Iterator[Cluster]:
    with tempfile.TemporaryDirectory(prefix="maratron-e2e-idle-") as folder:
        cluster = Cluster(
            nats_url=maratron_stack.nats_url,
            database_url=maratron_stack.database_url,
            redis_url=maratron_stack.redis_url,
            namespace=new_namespace("idle"),
            folder=Path(folder),
            extra_env={"MARATRON_SESSION_IDLE_SECONDS": "5", "MARATRON_SWEEP_INTERVAL_S": "0.1"},
        )
        try:
            yield cluster.start(services=("context",), gateways=1)
        finally:
            cluster.stop()
            asyncio.run(drop_namespace(maratron_stack, cluster.namespace))  # type: ignore[arg-type]


async def test_idle_session_expires_and_is_recorded(
    short_idle_cluster: Cluster, events_of: Any
) -> None:
    cluster, athlete = short_idle_cluster, f"ath-{uuid.uuid4().hex[:8]}"
    async with Client(cluster.gateway_urls[0], auth=cluster.token(athlete), timeout=30) as client:
        started = await call(client, "start_session")
        sid = started["session_id"]
        assert started["idle_timeout_seconds"] == 5
        deadline = time.monotonic() + 60
        while "SessionExpired" not in await events_of(cluster.namespace, athlete):
            assert time.monotonic() < deadline, "the sweeper never recorded the expiry"
            await asyncio.sleep(0.05)
        detail = await call(client, "get_session", session_id=sid)
        assert detail["session"]["status"] == "expired"
        assert (await call(client, "list_sessions"))["sessions"] == []
        before = await events_of(cluster.namespace, athlete)
        assert "expired" in await refused(
            client, "record_exchange", session_id=sid, user_message="still there?", ai_response="no"
        )
        assert "expired" in await refused(client, "remember", text="x", kind="note", session_id=sid)
        assert await events_of(cluster.namespace, athlete) == before
        assert before.count("SessionExpired") == 1
