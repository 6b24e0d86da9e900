"""Process settings shared by every service: environment (and `.env`) driven.

The three server URLs are read as plain `NATS_URL`, `DATABASE_URL`, `REDIS_URL` (the names
compose, k8s and the machine's own servers already use); everything else is `MARATRON_*`.
A service subclasses `Settings` to add its own fields.
"""

from __future__ import annotations

import os
import secrets
import socket
from typing import Literal

from maratron_contracts.subjects import DEFAULT_NAMESPACE, check_namespace
from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_replica() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(2)}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MARATRON_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    namespace: str = Field(default=DEFAULT_NAMESPACE, description="Prefix of every resource.")
    nats_url: str = Field(
        default="nats://127.0.0.1:4222",
        validation_alias=AliasChoices("NATS_URL", "nats_url"),
    )
    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/maratron",
        validation_alias=AliasChoices("DATABASE_URL", "database_url"),
    )
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        validation_alias=AliasChoices("REDIS_URL", "redis_url"),
    )
    service_name: str = Field(default="maratron", description="Service name (logs, metrics).")
    replica_id: str = Field(default_factory=_default_replica, description="This process's id.")
    log_level: str = "INFO"
    otel_exporter: Literal["none", "console", "otlp"] = "none"
    metrics_host: str = Field(default="0.0.0.0", description="Bind address of /healthz etc.")
    metrics_port: int = Field(default=0, ge=0, le=65535, description="0 = pick a free port.")
    command_timeout_s: float = Field(default=5.0, gt=0, description="Client overall deadline.")
    command_concurrency: int = Field(default=16, ge=1, description="In-flight commands/replica.")
    db_pool_max: int = Field(default=10, ge=1)
    relay_enabled: bool = Field(default=True, description="Run a (standby) relay here.")
    shutdown_grace_s: float = Field(default=10.0, ge=0, description="In-flight drain limit.")

    @field_validator("namespace")
    @classmethod
    def _check_namespace(cls, value: str) -> str:
        return check_namespace(value)
