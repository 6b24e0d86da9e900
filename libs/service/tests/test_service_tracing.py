"""Trace context crosses NATS: client span -> command span -> trace id in event metadata."""

from __future__ import annotations

from maratron_contracts.envelope import Actor
from maratron_service.app import ServiceApp
from maratron_service.testing import client_of
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from .service_counter_app import Increment


async def test_trace_context_travels_with_the_command(counter_app: ServiceApp) -> None:
    exporter = InMemorySpanExporter()
    # one global provider per process (settable once): reuse the SDK provider another test
    # (tests/observability) installed, or install one
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    assert trace.get_tracer_provider() is provider, "a non-SDK tracer provider is installed"
    provider.add_span_processor(SimpleSpanProcessor(exporter))

    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("tool call") as root:
        await client_of(counter_app).send(
            "counter", Increment(counter_id="tr"), "a1", Actor(subject="a1")
        )
    trace_id = format(root.get_span_context().trace_id, "032x")

    names = {s.name: s for s in exporter.get_finished_spans()}
    assert {"send counter.increment", "command counter.increment"} <= set(names)
    assert {format(s.context.trace_id, "032x") for s in names.values()} == {trace_id}
    (event,) = await counter_app.store.read_stream("counter:tr")
    assert event.metadata.trace_id == trace_id
    assert event.metadata.traceparent is not None and trace_id in event.metadata.traceparent
