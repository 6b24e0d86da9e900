"""Context tools (sessions, preferences, conversation memory, fuzzy search), the
`sessions://{session_id}` resource, and the preferences output hook.

The acting agent (which MCP client wrote an exchange or memory item, and which private items
it sees) is the `agent` parameter when given, else the token's client id.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastmcp import FastMCP
from fastmcp.tools.base import ToolResult
from maratron_context.queries import ContextQueries
from maratron_contracts.context import (
    MAX_SHORT,
    MAX_TEXT,
    ConversationContextView,
    DetailLevel,
    EndSession,
    ExchangeView,
    Forget,
    ForgetReceipt,
    MemoryItemView,
    MemoryKind,
    MemorySearchResult,
    PreferencesView,
    RecordExchange,
    Remember,
    SearchKind,
    SearchMemoryQuery,
    SessionDetail,
    SessionList,
    SessionView,
    SetPreferences,
    StartSession,
    UpdateConversationContext,
    Visibility,
    agent_of,
)
from pydantic import Field

from maratron_gateway.deps import GatewayDeps
from maratron_gateway.toolkit import (
    CREATE,
    DELETE,
    READ_ONLY,
    UPDATE,
    build,
    result,
    send_command,
    tool,
)
from maratron_gateway.tools.context_preferences import preferences_hook

SessionId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_SHORT,
        description="A session id from start_session or list_sessions.",
    ),
]
Agent = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_SHORT,
        description=(
            "Name of the AI agent / MCP client acting (default: your token's client id). "
            "Agents of one "
            "athlete share a session; each sees shared items and only its own private ones."
        ),
    ),
]
LongText = Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
ShortText = Annotated[str, Field(min_length=1, max_length=MAX_SHORT)]
VisibilityArg = Annotated[
    Visibility,
    Field(description="shared (every agent of yours sees it) or private (only this agent)."),
]
RECENT_EXCHANGES = 10


def render_session(s: SessionView) -> str:
    title = f" '{s.title}'" if s.title else ""
    until = f", expires {s.expires_at:%Y-%m-%d %H:%M}Z if idle" if s.expires_at else ""
    return (
        f"session {s.session_id}{title}: {s.status.value}, {s.exchange_count} exchanges, "
        f"agents {', '.join(s.agents)}{until}"
    )


def render_preferences(p: PreferencesView) -> str:
    tone = f", tone {p.coaching_tone}" if p.coaching_tone else ""
    return (
        f"preferences: detail {p.detail_level.value}, max_results {p.max_results}, "
        f"language {p.language}{tone}"
    )


def render_search(r: MemorySearchResult) -> str:
    if not r.matches:
        return f"nothing in memory matches {r.query!r}"
    lines = [f"{len(r.matches)} matches for {r.query!r}:"]
    lines += [f"- [{m.kind}, {m.score:g}] {m.text[:120]} ({m.id})" for m in r.matches]
    return "\n".join(lines)


def register(mcp: FastMCP, deps: GatewayDeps) -> None:
    cached: list[ContextQueries] = []

    def queries() -> ContextQueries:
        """One ContextQueries per Redis connection (its search cache lives as long)."""
        if not cached or cached[0].redis is not deps.redis:
            cached[:] = [ContextQueries(deps.redis, deps.keys)]
        return cached[0]

    def me() -> tuple[str, str | None]:
        actor = deps.actor()
        return actor.subject, actor.client_id

    deps.output_hooks.append(preferences_hook(lambda athlete: queries().preferences(athlete)))

    # -- sessions -----------------------------------------------------------------------------
    @tool(mcp, CREATE, SessionView)
    async def start_session(
        title: ShortText | None = None, agent: Agent | None = None
    ) -> ToolResult:
        """Start a conversation session; returns its server-minted, unguessable `session_id`.
        The session expires after a period without activity."""
        athlete, client = me()
        cmd = build(StartSession, "start_session", title=title, agent=agent_of(agent, client))
        sid = str((await send_command(deps, cmd)).data["session_id"])
        view = await queries().session(athlete, sid)
        return result(view, "started " + render_session(view))

    @tool(mcp, READ_ONLY, SessionDetail)
    async def get_session(session_id: SessionId, agent: Agent | None = None) -> ToolResult:
        """A session: its status, conversation context and most recent exchanges."""
        athlete, client = me()
        detail = await queries().session_detail(
            athlete, session_id, agent=agent_of(agent, client), recent=RECENT_EXCHANGES
        )
        lines = [render_session(detail.session)]
        lines += [
            f"- {x.agent}: {x.user_message[:80]} -> {x.ai_response[:80]}"
            for x in detail.recent_exchanges
        ]
        return result(detail, "\n".join(lines))

    @tool(mcp, READ_ONLY, SessionList)
    async def list_sessions(active_only: bool = True) -> ToolResult:
        """Your sessions, newest first (only active ones unless active_only is false)."""
        sessions = await queries().sessions(me()[0], active_only=active_only)
        text = "\n".join(render_session(s) for s in sessions.sessions) or "no sessions"
        return result(sessions, text)

    @tool(mcp, DELETE, SessionView)
    async def end_session(session_id: SessionId, agent: Agent | None = None) -> ToolResult:
        """End a session (ending it again changes nothing); returns the closed session."""
        athlete, client = me()
        cmd = build(EndSession, "end_session", session_id=session_id, agent=agent_of(agent, client))
        await send_command(deps, cmd)
        view = await queries().session(athlete, session_id)
        return result(view, "ended " + render_session(view))

    @tool(mcp, UPDATE, ConversationContextView)
    async def update_conversation_context(
        session_id: SessionId,
        topic: ShortText | None = None,
        mood: ShortText | None = None,
        mentioned_runs: Annotated[
            list[ShortText] | None,
            Field(max_length=100, description="Run ids mentioned in the conversation."),
        ] = None,
        mentioned_goals: Annotated[
            list[ShortText] | None,
            Field(max_length=100, description="Goals mentioned in the conversation."),
        ] = None,
        agent: Agent | None = None,
    ) -> ToolResult:
        """Update a session's conversation context (only the fields given change)."""
        athlete, client = me()
        cmd = build(
            UpdateConversationContext,
            "update_conversation_context",
            session_id=session_id,
            topic=topic,
            mood=mood,
            mentioned_runs=mentioned_runs,
            mentioned_goals=mentioned_goals,
            agent=agent_of(agent, client),
        )
        await send_command(deps, cmd)
        context = (await queries().session(athlete, session_id)).context
        return result(
            context,
            f"context of {session_id}: topic {context.topic or '-'}, mood {context.mood or '-'}",
        )

    @tool(mcp, CREATE, ExchangeView)
    async def record_exchange(
        session_id: SessionId,
        user_message: LongText,
        ai_response: LongText,
        intent: ShortText | None = None,
        sentiment: ShortText | None = None,
        visibility: VisibilityArg = Visibility.SHARED,
        agent: Agent | None = None,
    ) -> ToolResult:
        """Record one user message and your response in a session (searchable later)."""
        _, client = me()
        writer = agent_of(agent, client)
        cmd = build(
            RecordExchange,
            "record_exchange",
            session_id=session_id,
            user_message=user_message,
            ai_response=ai_response,
            intent=intent,
            sentiment=sentiment,
            visibility=visibility,
            agent=writer,
        )
        data = (await send_command(deps, cmd)).data
        view = ExchangeView(
            exchange_id=data["exchange_id"],
            session_id=session_id,
            agent=writer,
            visibility=cmd.visibility,
            user_message=cmd.user_message,
            ai_response=cmd.ai_response,
            intent=cmd.intent,
            sentiment=cmd.sentiment,
            recorded_at=data["recorded_at"],
        )
        return result(view, f"recorded exchange {view.exchange_id} in session {session_id}")

    # -- preferences --------------------------------------------------------------------------
    @tool(mcp, UPDATE, PreferencesView)
    async def set_preferences(
        detail_level: Annotated[
            DetailLevel | None,
            Field(description="brief, normal or detailed: how much text tools return."),
        ] = None,
        max_results: Annotated[
            int | None, Field(ge=1, le=100, description="Cap on list sizes in every tool's output.")
        ] = None,
        coaching_tone: ShortText | None = None,
        language: ShortText | None = None,
    ) -> ToolResult:
        """Set conversational preferences (only the fields given change); they apply to every
        tool's output."""
        cmd = build(
            SetPreferences,
            "set_preferences",
            detail_level=detail_level,
            max_results=max_results,
            coaching_tone=coaching_tone,
            language=language,
        )
        await send_command(deps, cmd)
        prefs = await queries().preferences(deps.actor().subject)
        return result(prefs, render_preferences(prefs))

    @tool(mcp, READ_ONLY, PreferencesView)
    async def get_preferences() -> ToolResult:
        """Your conversational preferences (defaults until you set them)."""
        prefs = await queries().preferences(me()[0])
        return result(prefs, render_preferences(prefs))

    # -- memory -------------------------------------------------------------------------------
    @tool(mcp, CREATE, MemoryItemView)
    async def remember(
        text: LongText,
        kind: Annotated[MemoryKind, Field(description="note, goal, injury, preference or race.")],
        session_id: SessionId | None = None,
        expires_at: Annotated[
            dt.datetime | None,
            Field(description="When to forget it by itself (ISO 8601; UTC if no offset)."),
        ] = None,
        visibility: VisibilityArg = Visibility.SHARED,
        agent: Agent | None = None,
    ) -> ToolResult:
        """Remember something about the athlete (a goal, an injury, ...); returns `memory_id`."""
        athlete, client = me()
        cmd = build(
            Remember,
            "remember",
            text=text,
            kind=kind,
            session_id=session_id,
            expires_at=expires_at,
            visibility=visibility,
            agent=agent_of(agent, client),
        )
        memory_id = str((await send_command(deps, cmd)).data["memory_id"])
        item = await queries().memory_item(athlete, memory_id, agent=agent_of(agent, client))
        return result(item, f"remembered {item.kind.value} {item.memory_id}")

    @tool(mcp, DELETE, ForgetReceipt)
    async def forget(
        memory_id: Annotated[str, Field(min_length=1, max_length=MAX_SHORT)],
        agent: Agent | None = None,
    ) -> ToolResult:
        """Forget a memory item (it disappears from search)."""
        _, client = me()
        cmd = build(Forget, "forget", memory_id=memory_id, agent=agent_of(agent, client))
        await send_command(deps, cmd)
        return result(ForgetReceipt(memory_id=memory_id), f"forgot {memory_id}")

    @tool(mcp, READ_ONLY, MemorySearchResult)
    async def search_memory(
        query: LongText,
        limit: Annotated[int, Field(ge=1, le=100)] = 10,
        kind: Annotated[
            SearchKind | None,
            Field(description="Only this kind: note, goal, injury, preference, race or exchange."),
        ] = None,
        session_id: SessionId | None = None,
        agent: Agent | None = None,
    ) -> ToolResult:
        """Fuzzy search over your memory and past exchanges (typos and word order tolerated);
        best score first, newest first on ties."""
        athlete, client = me()
        q = build(
            SearchMemoryQuery,
            "search_memory",
            query=query,
            limit=limit,
            kind=kind,
            session_id=session_id,
        )
        found = await queries().search(athlete, q, agent=agent_of(agent, client))
        return result(found, render_search(found))

    # -- resource -----------------------------------------------------------------------------
    @mcp.resource("sessions://{session_id}", mime_type="application/json", name="session")
    async def session_resource(session_id: str) -> str:
        """A session of yours: status, conversation context and recent exchanges."""
        athlete, client = me()
        detail = await queries().session_detail(
            athlete, session_id, agent=agent_of(None, client), recent=RECENT_EXCHANGES
        )
        return detail.model_dump_json()
