"""Subject, stream and key naming.

Everything is prefixed by a *namespace* (default ``maratron``) so that several independent
installations - or test sessions - can share one NATS, Postgres and Redis without seeing each
other. With the default namespace, subjects read exactly as in the design:
``maratron.cmd.runs.log_run`` and ``maratron.evt.runs.RunLogged``.
"""

from __future__ import annotations

import re

DEFAULT_NAMESPACE = "maratron"
_NAMESPACE_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def check_namespace(namespace: str) -> str:
    if not _NAMESPACE_RE.match(namespace):
        raise ValueError(
            f"namespace {namespace!r} must be 1-32 lowercase letters, digits or '_', "
            "starting with a letter"
        )
    return namespace


def command_subject(namespace: str, service: str, command: str) -> str:
    """Request-reply subject of one command, served by a queue group of `service`."""
    return f"{namespace}.cmd.{service}.{command}"


def command_wildcard(namespace: str, service: str) -> str:
    return f"{namespace}.cmd.{service}.*"


def event_subject(namespace: str, category: str, event_type: str) -> str:
    """JetStream subject a committed event is relayed to."""
    return f"{namespace}.evt.{category}.{event_type}"


def events_wildcard(namespace: str) -> str:
    return f"{namespace}.evt.>"


def events_stream_name(namespace: str) -> str:
    """Name of the JetStream stream that carries committed events (never command subjects)."""
    return f"{namespace.upper()}_EVENTS"


def queue_group(namespace: str, service: str) -> str:
    return f"{namespace}-{service}"


def redis_prefix(namespace: str) -> str:
    return f"{namespace}:"
