"""Base classes for message payloads.

Every concrete command / event / read model lives in the module of its bounded context
(`runs`, `context`, `insights`, `access`) and is registered in `registry.REGISTRY` with the
`@command` / `@event` / `@read_model` decorators, so that subjects, versions and JSON Schemas
are known in one place.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Command(Message):
    """Payload of a command. `service` and `name` make the subject: {ns}.cmd.{service}.{name}."""

    service: ClassVar[str]
    name: ClassVar[str]
    schema_version: ClassVar[int] = 1


class Event(Message):
    """Payload of a domain event. Events are facts: immutable, never rewritten.

    `personal_fields` name the fields that are encrypted with the athlete's key at rest
    (crypto-shredding): deleting the key makes them unreadable while the log stays intact.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    category: ClassVar[str]
    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1
    personal_fields: ClassVar[frozenset[str]] = frozenset()


class ReadModel(Message):
    """Shape of a read model served from Redis (and returned by query tools)."""

    model_config = ConfigDict(extra="ignore")

    read_model: ClassVar[str]
    schema_version: ClassVar[int] = 1
