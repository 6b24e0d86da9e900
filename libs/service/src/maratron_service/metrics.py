"""Prometheus metrics of the service runtime (one set per process, labelled by service)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

COMMAND_SECONDS = Histogram(
    "maratron_command_seconds",
    "Time to handle one command, from receipt to reply.",
    ["service", "command"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
COMMAND_ERRORS = Counter(
    "maratron_command_errors_total",
    "Commands answered with an error, by error code.",
    ["service", "command", "code"],
)
COMMAND_DUPLICATES = Counter(
    "maratron_command_duplicates_total",
    "Retried commands answered with the stored reply of their first application.",
    ["service", "command"],
)
COMMAND_CONFLICT_RETRIES = Counter(
    "maratron_command_conflict_retries_total",
    "Handler re-runs after a concurrent append to the same stream (WrongExpectedVersion).",
    ["service", "command"],
)
PROJECTION_LAG = Gauge(
    "maratron_projection_lag_events",
    "Events between the store's head and the catch-up projector's checkpoint.",
    ["service", "projector"],
)
RELAY_LAG = Gauge(
    "maratron_relay_lag_events",
    "Events between the store's head and the relay's checkpoint.",
    ["service"],
)
RELAY_ACTIVE = Gauge(
    "maratron_relay_active",
    "1 when this process holds the relay lock and publishes, 0 on standby.",
    ["service", "replica"],
)
CONSUMER_DELIVERIES = Counter(
    "maratron_consumer_deliveries_total",
    "JetStream messages received by a durable event consumer (redeliveries included).",
    ["consumer"],
)
CONSUMER_REDELIVERIES = Counter(
    "maratron_consumer_redeliveries_total",
    "JetStream messages received again after a NAK or an expired ack wait (num_delivered > 1).",
    ["consumer"],
)
CONSUMER_PARKED = Counter(
    "maratron_consumer_parked_total",
    "Messages a consumer gave up on (parked for an operator, then terminated).",
    ["consumer"],
)
CONSUMER_PENDING = Gauge(
    "maratron_consumer_pending_messages",
    "Messages of the stream not yet delivered to a durable consumer (JetStream num_pending,"
    " as of its last fetch; 0 after a fetch that found nothing).",
    ["consumer"],
)
