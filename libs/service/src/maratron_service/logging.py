"""JSON-lines logging on stderr, with the command's ids attached from contextvars.

`configure(service, replica)` once per process; the command loop binds `correlation_id` and
`command_id` around each command (`bind(...)`), so every log line written while handling it -
in our code or a library's - carries them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
command_id: ContextVar[str | None] = ContextVar("command_id", default=None)

# LogRecord attributes that are not user-supplied `extra` fields.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str, replica: str | None) -> None:
        super().__init__()
        self.service = service
        self.replica = replica

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "service": self.service,
            "replica": self.replica,
        }
        if (cid := correlation_id.get()) is not None:
            line["correlation_id"] = cid
        if (cmd := command_id.get()) is not None:
            line["command_id"] = cmd
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure(service: str, replica: str | None = None, level: str | int = "INFO") -> None:
    """Route the root logger to stderr as JSON lines (replaces earlier handlers)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service, replica))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())


@contextlib.contextmanager
def bind(*, correlation: object | None = None, command: object | None = None) -> Iterator[None]:
    """Attach a command's ids to every log line written inside the block."""
    t1 = correlation_id.set(None if correlation is None else str(correlation))
    t2 = command_id.set(None if command is None else str(command))
    try:
        yield
    finally:
        command_id.reset(t2)
        correlation_id.reset(t1)
