"""Isolation matrix: athlete A's token with athlete B's ids, on every tool and resource that
takes an id. Each answer must carry no B data and be exactly the answer A gets for a random id
of the same shape (no hint that the id exists), and B's data must be unchanged afterwards."""

from __future__ import annotations

import json
import random
import re
import string
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastmcp import Client

from tests.security.conftest import Connect

SECRET = "Bsecret"  # every piece of B's free text contains it
UUID_RE = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
RUN = {"date": "2026-11-02", "distance": 10, "duration": "50:00"}


@dataclass(frozen=True)
class World:
    a: str
    b: str
    ids: dict[str, str]  # B's ids: run_id, shoe_id, session_id, memory_id, athlete_id


def _data(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    data: dict[str, Any] = result.structured_content
    return data


@pytest.fixture(scope="module")
async def world(sec_cluster: Any, gateway: str) -> AsyncIterator[World]:
    from tests.security.conftest import ERAS

    a, b = f"ath-a-{uuid.uuid4().hex[:8]}", f"ath-b-{uuid.uuid4().hex[:8]}"

    def client(subject: str) -> Client[Any]:
        return Client(gateway, auth=sec_cluster.token(subject), mode=ERAS["modern"], timeout=30)

    async with client(b) as cb, client(a) as ca:
        await cb.call_tool("register_athlete", {"name": f"{SECRET} Runner", "email": "b@ex.org"})
        await ca.call_tool("register_athlete", {"name": "A Runner", "email": "a@ex.org"})
        shoe = _data(await cb.call_tool("add_shoe", {"name": f"{SECRET} shoe", "default": True}))
        run = _data(
            await cb.call_tool("log_run", {**RUN, "name": f"{SECRET} run", "notes": SECRET})
        )
        session = _data(await cb.call_tool("start_session", {"title": f"{SECRET} session"}))
        memory = _data(
            await cb.call_tool(
                "remember",
                {"text": f"{SECRET} knee", "kind": "injury", "session_id": session["session_id"]},
            )
        )
        own = _data(await ca.call_tool("log_run", RUN))
    yield World(
        a=a,
        b=b,
        ids={
            "run_id": run["run_id"],
            "shoe_id": shoe["shoe_id"],
            "session_id": session["session_id"],
            "memory_id": memory["memory_id"],
            "athlete_id": b,
            "own_run_id": own["run_id"],
        },
    )


def _lookalike(value: str) -> str:
    """A random id of the same shape (a uuid for a uuid, same character classes otherwise)."""
    try:
        uuid.UUID(value)
        return str(uuid.uuid4())
    except ValueError:
        pass
    out = []
    for c in value:
        if c.isdigit():
            out.append(random.choice(string.digits))
        elif c in "abcdef":
            out.append(random.choice("abcdef"))
        elif c.islower():
            out.append(random.choice(string.ascii_lowercase))
        elif c.isupper():
            out.append(random.choice(string.ascii_uppercase))
        else:
            out.append(c)
    return "".join(out)


# tool, arguments; "{name}" is replaced by B's id (or a look-alike)
TOOL_CASES: list[tuple[str, dict[str, Any]]] = [
    ("get_run", {"run_id": "{run_id}"}),
    ("update_run", {"run_id": "{run_id}", "name": "hijacked"}),
    ("delete_run", {"run_id": "{run_id}"}),
    ("log_run", {**RUN, "shoe_id": "{shoe_id}"}),
    ("update_run", {"run_id": "{own_run_id}", "shoe_id": "{shoe_id}"}),
    ("retire_shoe", {"shoe_id": "{shoe_id}"}),
    ("get_session", {"session_id": "{session_id}"}),
    ("end_session", {"session_id": "{session_id}"}),
    ("update_conversation_context", {"session_id": "{session_id}", "topic": "hijacked"}),
    (
        "record_exchange",
        {"session_id": "{session_id}", "user_message": "hi", "ai_response": "hello"},
    ),
    ("remember", {"text": "planted", "kind": "note", "session_id": "{session_id}"}),
    ("search_memory", {"query": SECRET, "session_id": "{session_id}"}),
    ("forget", {"memory_id": "{memory_id}"}),
    ("get_profile", {"athlete_id": "{athlete_id}"}),
    ("training_load", {"athlete_id": "{athlete_id}"}),
    ("analyze_patterns", {"athlete_id": "{athlete_id}"}),
    ("predict_race", {"distance": "10k", "athlete_id": "{athlete_id}"}),
    ("get_motivational_context", {"athlete_id": "{athlete_id}"}),
    ("get_coaching_snapshot", {"athlete_id": "{athlete_id}"}),
    ("usage_report", {"athlete_id": "{athlete_id}"}),
]
RESOURCE_CASES = ["sessions://{session_id}"]


def _fill(args: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    filled: dict[str, Any] = {}
    for key, value in args.items():
        if isinstance(value, str) and re.fullmatch(r"\{\w+\}", value):
            filled[key] = ids[value[1:-1]]
        else:
            filled[key] = value
    return filled


def _normalise(text: str, ids: dict[str, str]) -> str:
    for name, value in ids.items():
        text = text.replace(value, f"<{name}>")
    return UUID_RE.sub("<uuid>", text)


async def _answer(client: Client[Any], tool: str, args: dict[str, Any]) -> tuple[bool, str]:
    result = await client.call_tool(tool, args, raise_on_error=False)
    text = " ".join(getattr(block, "text", "") for block in result.content)
    return result.is_error, text + json.dumps(result.structured_content or {}, sort_keys=True)


async def _snapshot(client: Client[Any], ids: dict[str, str]) -> list[Any]:
    calls: list[tuple[str, dict[str, Any]]] = [
        ("get_profile", {}),
        ("get_run", {"run_id": ids["run_id"]}),
        ("list_runs", {}),
        ("list_shoes", {"include_retired": True}),
        ("get_session", {"session_id": ids["session_id"]}),
        ("search_memory", {"query": SECRET}),
    ]
    return [_data(await client.call_tool(name, args)).copy() for name, args in calls]


KNOWN_LEAKS: dict[tuple[str, str], str] = {}
"""(tool, id parameter) -> why that case still tells a foreign id from an unknown one. Empty:
a case listed here is a strict xfail, so fixing it turns the suite red until it is removed."""


def _case_id(case: tuple[str, dict[str, Any]]) -> str:
    tool, args = case
    ids = [v[1:-1] for v in args.values() if isinstance(v, str) and v.startswith("{")]
    return f"{tool}[{','.join(ids)}]"


def _cases() -> list[Any]:
    params = []
    for tool, args in TOOL_CASES:
        refs = {v[1:-1] for v in args.values() if isinstance(v, str) and v.startswith("{")}
        leak = next((r for (t, ref), r in KNOWN_LEAKS.items() if t == tool and ref in refs), None)
        marks = [pytest.mark.xfail(reason=leak, strict=True)] if leak else []
        params.append(pytest.param(tool, args, id=_case_id((tool, args)), marks=marks))
    return params


MUST_FAIL = {
    "get_run", "update_run", "delete_run", "retire_shoe", "get_session", "end_session",
    "update_conversation_context", "record_exchange", "forget", "get_profile",
    "training_load", "analyze_patterns", "predict_race", "get_motivational_context",
    "get_coaching_snapshot", "usage_report",
}  # fmt: skip


@pytest.fixture(scope="module")
async def b_before(world: World, connect_module: Any) -> list[Any]:
    async with connect_module(world.b) as b_client:
        return await _snapshot(b_client, world.ids)


@pytest.fixture(scope="module")
def connect_module(sec_cluster: Any, gateway: str) -> Any:
    from tests.security.conftest import ERAS

    def _client(subject: str) -> Client[Any]:
        return Client(gateway, auth=sec_cluster.token(subject), mode=ERAS["modern"], timeout=30)

    return _client


@pytest.mark.parametrize(("tool", "args"), _cases())
async def test_a_cannot_reach_b_by_id(
    world: World, b_before: list[Any], connect: Connect, tool: str, args: dict[str, Any]
) -> None:
    fake_ids = {k: (v if k == "own_run_id" else _lookalike(v)) for k, v in world.ids.items()}
    async with connect(world.a) as a_client:
        b_error, b_text = await _answer(a_client, tool, _fill(args, world.ids))
        f_error, f_text = await _answer(a_client, tool, _fill(args, fake_ids))
    assert SECRET not in b_text, f"B's data in the answer: {b_text}"
    if tool in MUST_FAIL:
        assert b_error, f"{tool} succeeded on B's id: {b_text}"
    assert (b_error, _normalise(b_text, world.ids)) == (f_error, _normalise(f_text, fake_ids)), (
        "B's id answered differently from a random id of the same shape"
    )


@pytest.mark.parametrize("template", RESOURCE_CASES)
async def test_a_cannot_read_b_resources(world: World, connect: Connect, template: str) -> None:
    answers = []
    async with connect(world.a) as a_client:
        for ids in (world.ids, {k: _lookalike(v) for k, v in world.ids.items()}):
            try:
                answers.append(("ok", str(await a_client.read_resource(template.format(**ids)))))
            except Exception as exc:  # an MCP error: compare its text
                answers.append(("error", _normalise(str(exc), ids)))
    assert answers[0][0] == "error" and SECRET not in answers[0][1]
    assert answers[0] == answers[1]


async def test_b_data_unchanged_after_the_attacks(
    world: World, b_before: list[Any], connect: Connect
) -> None:
    async with connect(world.b) as b_client:
        assert await _snapshot(b_client, world.ids) == b_before
