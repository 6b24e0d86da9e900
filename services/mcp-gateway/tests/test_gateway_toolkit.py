"""Pure pieces of the gateway: argument errors, command building, renderings, and the
middleware chain on an in-memory FastMCP server (no stack needed)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import pytest
from fastmcp import Client, FastMCP
from fastmcp.exceptions import ToolError
from fastmcp.tools.base import ToolResult
from maratron_contracts.envelope import Actor
from maratron_contracts.errors import NotFound, Unavailable, ValidationFailed
from maratron_contracts.runs import LogRun, Run, UpdateProfile
from maratron_gateway.deps import GatewayDeps
from maratron_gateway.middleware import ErrorTranslationMiddleware, OutputHookMiddleware
from maratron_gateway.settings import GatewaySettings
from maratron_gateway.toolkit import READ_ONLY, build, result, tool, tool_error
from maratron_gateway.tools.runs import render_run
from pydantic import BaseModel, Field


def test_build_names_each_bad_field_and_how_to_fix_it() -> None:
    with pytest.raises(ToolError) as info:
        build(LogRun, "log_run", date=dt.date(2026, 11, 2), distance=10, duration="5o:00")
    message = str(info.value)
    assert message.startswith("invalid arguments for log_run: duration: ")
    assert "HH:MM:SS" in message and "'5o:00'" in message


def test_build_reports_whole_model_rules_and_drops_none() -> None:
    with pytest.raises(ToolError) as info:
        build(UpdateProfile, "update_profile", name=None, resting_hr=90, max_hr=85)
    assert "resting_hr must be lower than max_hr" in str(info.value)
    cmd = build(UpdateProfile, "update_profile", name="Ada", email=None)
    assert cmd.changes() == {"name": "Ada"}


def test_tool_error_keeps_the_service_message_and_words_unavailable() -> None:
    assert str(tool_error(NotFound("run 'x' not found: list_runs shows..."))).startswith("run 'x'")
    assert str(tool_error(ValidationFailed("distance must be > 0"))) == "distance must be > 0"
    assert (
        str(tool_error(Unavailable("no responders", service="runs")))
        == "the runs service is unavailable, retry in a few seconds"
    )
    assert str(tool_error(Unavailable("deadline"), service="context")).startswith("the context ")


def test_render_run_shows_both_units_pace_and_id() -> None:
    run = Run(
        run_id="r1", athlete_id="a", date=dt.date(2026, 11, 2), distance_m=10_000,
        duration_s=3000, logged_at=dt.datetime(2026, 11, 2, tzinfo=dt.UTC),
    )  # fmt: skip
    assert render_run(run) == (
        "2026-11-02: 10.0 km (6.214 mi) in 50:00, 5:00/km (8:03/mi) [run_id r1]"
    )


class Echo(BaseModel):
    limit: int
    who: str


@pytest.fixture
def server() -> FastMCP:
    deps = GatewayDeps.create(
        GatewaySettings(_env_file=None, namespace="unit", stdio_subject="ath-9"),  # type: ignore[call-arg]
        stdio=True,
    )

    async def shout(actor: Actor, name: str, out: ToolResult) -> ToolResult:
        text = out.content[0].text.upper()  # type: ignore[union-attr]
        return ToolResult(
            content=f"{text} ({actor.subject} via {name})",
            structured_content=out.structured_content,
        )

    deps.output_hooks.append(shout)
    mcp = FastMCP(
        "unit",
        mask_error_details=True,
        middleware=[ErrorTranslationMiddleware(), OutputHookMiddleware(deps)],
    )

    @tool(mcp, READ_ONLY, Echo)
    async def echo(limit: Annotated[int, Field(ge=1, le=100)] = 10) -> ToolResult:
        """Echo."""
        return result(Echo(limit=limit, who=deps.actor().subject), "echo")

    @tool(mcp, READ_ONLY, Echo)
    async def missing() -> ToolResult:
        """Always not found."""
        raise NotFound("no profile for this athlete yet: call register_athlete first")

    @tool(mcp, READ_ONLY, Echo)
    async def ping() -> ToolResult:
        """Not the athlete's data: output hooks skip it."""
        return result(Echo(limit=0, who="-"), "pong")

    @mcp.tool
    async def crash() -> dict[str, int]:
        raise RuntimeError("secret connection string postgres://user:pw@db")

    return mcp


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_middleware_chain(server: FastMCP, mode: str) -> None:
    async with Client(server, mode=mode) as client:
        ok = await client.call_tool("echo", {"limit": 3})
        assert ok.structured_content == {"limit": 3, "who": "ath-9"}
        assert ok.content[0].text == "ECHO (ath-9 via echo)"  # type: ignore[union-attr]

        pong = await client.call_tool("ping", {})
        assert pong.content[0].text == "pong"  # type: ignore[union-attr]

        bad = await client.call_tool("echo", {"limit": 0}, raise_on_error=False)
        assert bad.is_error
        assert bad.content[0].text == (  # type: ignore[union-attr]
            "invalid arguments for echo: limit: Input should be greater than or equal to 1 (got 0)"
        )
        extra = await client.call_tool("echo", {"athlete_id": "x"}, raise_on_error=False)
        assert "athlete_id: not a parameter of echo, remove it" in extra.content[0].text  # type: ignore[union-attr]

        gone = await client.call_tool("missing", {}, raise_on_error=False)
        assert gone.content[0].text == (  # type: ignore[union-attr]
            "no profile for this athlete yet: call register_athlete first"
        )
        crash = await client.call_tool("crash", {}, raise_on_error=False)
        assert crash.is_error
        assert "secret" not in crash.content[0].text  # type: ignore[union-attr]
