"""Settings: plain server URLs, MARATRON_* for the rest, .env support (pure)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from maratron_service.settings import Settings
from pydantic import ValidationError


def test_urls_are_unprefixed_and_the_rest_maratron_prefixed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NATS_URL", "nats://n:1")
    monkeypatch.setenv("DATABASE_URL", "postgresql://d/x")
    monkeypatch.setenv("REDIS_URL", "redis://r:2/0")
    monkeypatch.setenv("MARATRON_NAMESPACE", "blue")
    monkeypatch.setenv("MARATRON_METRICS_PORT", "9100")
    monkeypatch.setenv("MARATRON_OTEL_EXPORTER", "console")
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (s.nats_url, s.database_url, s.redis_url) == (
        "nats://n:1",
        "postgresql://d/x",
        "redis://r:2/0",
    )
    assert (s.namespace, s.metrics_port, s.otel_exporter) == ("blue", 9100, "console")


def test_dotenv_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("NATS_URL", "MARATRON_SERVICE_NAME"):
        monkeypatch.delenv(var, raising=False)
    env = tmp_path / ".env"
    env.write_text("NATS_URL=nats://from-dotenv:4222\nMARATRON_SERVICE_NAME=runs\n")
    s = Settings(_env_file=env)  # type: ignore[call-arg]
    assert s.nats_url == "nats://from-dotenv:4222"
    assert s.service_name == "runs"


def test_fields_can_be_given_by_name_and_subclassed() -> None:
    class RunsSettings(Settings):
        service_name: str = "runs"
        page_size: int = 10

    s = RunsSettings(_env_file=None, nats_url="nats://x:1", namespace="t1")  # type: ignore[call-arg]
    assert (s.service_name, s.page_size) == ("runs", 10)
    assert (s.nats_url, s.namespace) == ("nats://x:1", "t1")
    assert s.replica_id  # generated per process


@pytest.mark.parametrize("field,value", [("namespace", "Bad-NS"), ("metrics_port", 70000)])
def test_bad_values_are_refused(field: str, value: object) -> None:
    values: dict[str, Any] = {field: value}
    with pytest.raises(ValidationError):
        Settings(_env_file=None, **values)  # type: ignore[call-arg]
