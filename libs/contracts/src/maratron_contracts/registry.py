"""The registry of every message type: versions, upcasters and JSON Schemas.

Events are stored with their type and schema version. Readers never see an old version: the
registry upcasts stored data step by step (v1 -> v2 -> ...) to the current model before it is
decoded. Upcasters are pure functions on dicts, registered next to the event they upgrade.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from maratron_contracts.envelope import CommandEnvelope, EventMetadata, Reply
from maratron_contracts.messages import Command, Event, ReadModel

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
E = TypeVar("E", bound=type[Event])
C = TypeVar("C", bound=type[Command])
R = TypeVar("R", bound=type[ReadModel])


class UnknownEventType(LookupError):
    pass


class Registry:
    def __init__(self) -> None:
        self.events: dict[str, type[Event]] = {}
        self.commands: dict[tuple[str, str], type[Command]] = {}
        self.read_models: dict[str, type[ReadModel]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}

    # -- registration -------------------------------------------------------------------------
    def event(self, cls: E) -> E:
        existing = self.events.get(cls.event_type)
        if existing is not None and existing is not cls:
            raise ValueError(f"event type {cls.event_type} registered twice")
        self.events[cls.event_type] = cls
        return cls

    def command(self, cls: C) -> C:
        key = (cls.service, cls.name)
        existing = self.commands.get(key)
        if existing is not None and existing is not cls:
            raise ValueError(f"command {key} registered twice")
        self.commands[key] = cls
        return cls

    def read_model(self, cls: R) -> R:
        self.read_models[cls.read_model] = cls
        return cls

    def upcaster(self, event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Register a function turning data of `from_version` into `from_version + 1`."""

        def register(fn: Upcaster) -> Upcaster:
            self._upcasters[(event_type, from_version)] = fn
            return fn

        return register

    # -- reading ------------------------------------------------------------------------------
    def event_class(self, event_type: str) -> type[Event]:
        try:
            return self.events[event_type]
        except KeyError:
            raise UnknownEventType(event_type) from None

    def upcast(
        self, event_type: str, version: int, data: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        """Bring stored `data` of `version` up to the current schema version of its type."""
        target = self.event_class(event_type).schema_version
        while version < target:
            step = self._upcasters.get((event_type, version))
            if step is None:
                raise ValueError(f"no upcaster for {event_type} v{version} -> v{version + 1}")
            data = step(dict(data))
            version += 1
        return version, data

    def decode(self, event_type: str, version: int, data: dict[str, Any]) -> Event:
        _, current = self.upcast(event_type, version, data)
        return self.event_class(event_type).model_validate(current)

    # -- schemas ------------------------------------------------------------------------------
    def json_schemas(self) -> dict[str, dict[str, Any]]:
        """JSON Schema of every registered message and envelope, keyed by a stable name."""
        out: dict[str, dict[str, Any]] = {
            "envelope.CommandEnvelope": CommandEnvelope.model_json_schema(),
            "envelope.Reply": Reply.model_json_schema(),
            "envelope.EventMetadata": EventMetadata.model_json_schema(),
        }
        for (service, name), ccls in sorted(self.commands.items()):
            out[f"command.{service}.{name}.v{ccls.schema_version}"] = ccls.model_json_schema()
        for etype, ecls in sorted(self.events.items()):
            out[f"event.{ecls.category}.{etype}.v{ecls.schema_version}"] = ecls.model_json_schema()
        for rname, rcls in sorted(self.read_models.items()):
            out[f"read_model.{rname}.v{rcls.schema_version}"] = rcls.model_json_schema()
        return out


REGISTRY = Registry()
event = REGISTRY.event
command = REGISTRY.command
read_model = REGISTRY.read_model
upcaster = REGISTRY.upcaster


def load_all() -> Registry:
    """Import every bounded context's module so that the registry is complete."""
    import importlib

    for module in ("runs", "context", "insights", "access", "audit"):
        try:
            importlib.import_module(f"maratron_contracts.{module}")
        except ModuleNotFoundError as exc:  # a context not written yet
            if exc.name != f"maratron_contracts.{module}":
                raise
    return REGISTRY
