"""JSON-lines logging with ids from contextvars (pure)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from maratron_service.logging import bind, configure


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)


def test_lines_are_json_with_service_replica_and_bound_ids(
    restore_root_logger: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure("runs", "r7", "INFO")
    log = logging.getLogger("maratron.test")
    with bind(correlation="c-1", command="k-1"):
        log.info("applied %s", "LogRun", extra={"stream_id": "run:1"})
    log.info("outside")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    lines = [json.loads(x) for x in capsys.readouterr().err.splitlines()]
    first, second, third = lines
    assert first["msg"] == "applied LogRun" and first["level"] == "info"
    assert (first["service"], first["replica"]) == ("runs", "r7")
    assert (first["correlation_id"], first["command_id"]) == ("c-1", "k-1")
    assert first["stream_id"] == "run:1"
    assert "correlation_id" not in second and "command_id" not in second
    assert "ValueError: boom" in third["exc"]
