"""Tracing and metrics across processes' hops, with the gateway and the runs service in this
process: one `log_run` over HTTP is one trace (gateway -> NATS command -> event store ->
projection) whose id is stored in the event's metadata, and `/metrics` of both move."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import httpx
import pytest
from fastmcp.exceptions import ToolError
from maratron_runs.domain import run_stream
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from .conftest import READ_LIMIT, World, eventually


async def register_and_log(world: World, subject: str, runs: int) -> list[str]:
    """Register `subject` and log `runs` runs over HTTP; the run ids."""
    async with world.connect(subject) as client:
        await client.call_tool(
            "register_athlete",
            {"name": "Obs", "email": f"{subject}@example.org", "timezone": "Europe/Paris"},
        )
        ids = []
        for day in range(1, runs + 1):
            result = await client.call_tool(
                "log_run", {"date": f"2026-11-{day:02d}", "distance": 10, "duration": "50:00"}
            )
            assert result.structured_content is not None
            ids.append(result.structured_content["run_id"])
        return ids


def hex_id(value: int, width: int = 32) -> str:
    return format(value, f"0{width}x")


def trace_of(spans: InMemorySpanExporter, trace_id: int) -> list[ReadableSpan]:
    return [
        s
        for s in spans.get_finished_spans()
        if s.context is not None and s.context.trace_id == trace_id
    ]


def ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[ReadableSpan]:
    chain = []
    current = span
    while current.parent is not None and current.parent.span_id in by_id:
        current = by_id[current.parent.span_id]
        chain.append(current)
    return chain


async def test_one_log_run_is_one_trace_from_gateway_to_store_and_projection(
    world: World, spans: InMemorySpanExporter
) -> None:
    subject = world.new_subject()
    (run_id,) = await register_and_log(world, subject, runs=1)

    (event,) = await world.runs.store.read_stream(run_stream(run_id))
    assert event.metadata.trace_id is not None, "the command's trace id is stored with the event"
    trace_id = int(event.metadata.trace_id, 16)

    names = {"send runs.log_run", "command runs.log_run", "eventstore.append", "projection.apply"}

    def complete() -> bool:
        found = {s.name for s in trace_of(spans, trace_id)}
        return names <= found and any(n.startswith("tools/call") for n in found)

    await eventually(complete, "every hop's span of the log_run trace is finished")
    in_trace = trace_of(spans, trace_id)
    by_id = {s.context.span_id: s for s in in_trace if s.context is not None}
    by_name: dict[str, list[ReadableSpan]] = {}
    for s in in_trace:
        by_name.setdefault(s.name, []).append(s)

    # the gateway's MCP span (FastMCP's own SERVER span for tools/call log_run)
    (gateway_span,) = [
        s
        for s in in_trace
        if s.name.startswith("tools/call")
        and (s.attributes or {}).get("fastmcp.server.name") == "maratron"
        and (s.attributes or {}).get("mcp.method.name") == "tools/call"
    ]
    (send,) = by_name["send runs.log_run"]
    (command,) = by_name["command runs.log_run"]
    (append,) = by_name["eventstore.append"]
    (projection,) = by_name["projection.apply"]

    # the chain: gateway tool span > ... > NATS send > command (extracted from the header)
    assert gateway_span in ancestors(send, by_id), "the NATS send runs inside the tool call"
    assert command.parent is not None and command.parent.span_id == send.context.span_id
    assert command.parent.is_remote, "the command span's parent came over NATS headers"
    for child in (append, projection):
        assert child.parent is not None and child.parent.span_id == command.context.span_id
    assert (append.attributes or {}).get("maratron.stream_id") == run_stream(run_id)

    # the relay carries the traceparent to JetStream: the insights consumer continues the trace
    def consumed() -> bool:
        return any(s.name == "consume RunLogged" for s in trace_of(spans, trace_id))

    await eventually(consumed, "the insights consumer's span joins the log_run trace", 60)
    (consume,) = [s for s in trace_of(spans, trace_id) if s.name == "consume RunLogged"]
    assert consume.parent is not None and consume.parent.is_remote
    assert consume.parent.span_id == command.context.span_id

    # the stored metadata names this trace and the command span
    assert event.metadata.traceparent == (
        f"00-{hex_id(trace_id)}-{hex_id(command.context.span_id, 16)}"
        f"-{int(command.context.trace_flags):02x}"
    )


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus exposition (0 when absent)."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0


async def scrape(url: str) -> str:
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_metrics_of_gateway_and_runs_service_move(world: World) -> None:
    gateway_metrics = f"{world.gateway}/metrics"
    runs_metrics = f"http://127.0.0.1:{world.runs.metrics_port}/metrics"
    tool_calls: dict[str, Any] = {"tool": "log_run", "outcome": "ok"}
    command: dict[str, Any] = {"service": "runs", "command": "log_run"}

    before_gw = await scrape(gateway_metrics)
    before_runs = await scrape(runs_metrics)
    calls = 3
    subject = world.new_subject()
    await register_and_log(world, subject, runs=calls)
    async with world.connect(subject) as client:  # one command the service refuses
        with pytest.raises(ToolError, match="not found"):
            await client.call_tool(
                "log_run",
                {"date": "2026-11-20", "distance": 5, "duration": "25:00", "shoe_id": str(uuid4())},
            )
    after_gw = await scrape(gateway_metrics)
    after_runs = await scrape(runs_metrics)

    # gateway: calls and latency per tool
    delta = sample(after_gw, "maratron_mcp_tool_calls_total", **tool_calls) - sample(
        before_gw, "maratron_mcp_tool_calls_total", **tool_calls
    )
    assert delta == calls
    failed = {"tool": "log_run", "outcome": "error"}
    assert (
        sample(after_gw, "maratron_mcp_tool_calls_total", **failed)
        - sample(before_gw, "maratron_mcp_tool_calls_total", **failed)
        == 1
    )
    latency = sample(after_gw, "maratron_mcp_tool_seconds_count", tool="log_run") - sample(
        before_gw, "maratron_mcp_tool_seconds_count", tool="log_run"
    )
    assert latency == calls + 1
    # rate-limit rejections are counted by reason (none here)
    assert "maratron_gateway_denials_total" in after_gw

    # runs service: command latency per command, errors per command
    handled = sample(after_runs, "maratron_command_seconds_count", **command) - sample(
        before_runs, "maratron_command_seconds_count", **command
    )
    assert handled == calls + 1
    not_found = {**command, "code": "not_found"}
    errors = sample(after_runs, "maratron_command_errors_total", **not_found) - sample(
        before_runs, "maratron_command_errors_total", **not_found
    )
    assert errors == 1

    # lags are computed at scrape time; both converge to 0 once the relay has published and
    # the catch-up projector has caught up with the store's head
    async def caught_up() -> bool:
        text = await scrape(runs_metrics)
        relay = sample(text, "maratron_relay_lag_events", service="runs")
        projection = sample(text, "maratron_projection_lag_events", service="runs")
        return (
            "maratron_relay_lag_events" in text
            and "maratron_projection_lag_events" in text
            and relay == 0
            and projection == 0
        )

    await eventually(caught_up, "relay and projection lag are 0 on the runs service", 60)


async def test_rate_limit_rejections_are_counted(world: World) -> None:
    gateway_metrics = f"{world.gateway}/metrics"
    limited = {"reason": "rate_limited"}
    subject = world.new_subject()
    await register_and_log(world, subject, runs=0)
    before = await scrape(gateway_metrics)
    async with world.connect(subject) as client:
        for _ in range(READ_LIMIT):
            await client.call_tool("get_profile", {})
        with pytest.raises(ToolError, match="rate limit reached"):
            await client.call_tool("get_profile", {})
    after = await scrape(gateway_metrics)

    def delta(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert delta("maratron_gateway_denials_total", **limited) == 1
    assert delta("maratron_mcp_tool_calls_total", tool="get_profile", outcome="error") == 1
