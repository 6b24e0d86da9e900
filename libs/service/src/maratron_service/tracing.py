"""OpenTelemetry tracing: W3C trace context travels in NATS headers (`traceparent`), so one
trace spans gateway -> command -> append -> projection; the command's trace id is stored in the
events' metadata for audit.

`configure(service, replica, exporter)` installs a tracer provider for `otel_exporter`
(MARATRON_OTEL_EXPORTER): `none` (default: the API's no-op tracer), `console` (spans printed as
JSON), `otlp` (OTLP over HTTP/protobuf, `opentelemetry-exporter-otlp-proto-http`; endpoint from
OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT).

Spans of one command: `send {service}.{name}` (client, CommandClient) -> `command
{service}.{name}` (server, parented by the `traceparent` header) -> `eventstore.append` ->
`projection.apply`. In the gateway FastMCP's own `tools/call {tool}` span is the parent.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from opentelemetry import context, propagate, trace

log = logging.getLogger(__name__)

tracer = trace.get_tracer("maratron")


def configure(service: str, replica: str, exporter: str) -> None:
    if exporter == "none":
        return
    if exporter not in ("console", "otlp"):
        raise ValueError(f"otel_exporter must be none, console or otlp, not {exporter!r}")
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

    span_exporter: SpanExporter
    if exporter == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        span_exporter = ConsoleSpanExporter()
    else:
        # OTLP over HTTP/protobuf; endpoint and headers from the standard OTEL_EXPORTER_OTLP_*
        # variables (default http://localhost:4318/v1/traces).
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        span_exporter = OTLPSpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"service.name": service, "service.instance.id": replica})
    )
    provider.add_span_processor(BatchSpanProcessor(span_exporter))
    trace.set_tracer_provider(provider)


def inject_headers() -> dict[str, str]:
    """The current trace context as NATS headers (empty when no span is active)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def extract(headers: Mapping[str, str] | None) -> context.Context:
    return propagate.extract(dict(headers or {}))


def current_ids() -> tuple[str | None, str | None]:
    """(trace_id, traceparent) of the current span, for event metadata."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None, None
    trace_id = format(ctx.trace_id, "032x")
    return trace_id, f"00-{trace_id}-{format(ctx.span_id, '016x')}-{int(ctx.trace_flags):02x}"
