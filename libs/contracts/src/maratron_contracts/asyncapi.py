"""The message catalog as an AsyncAPI 3.0 document, generated from the contracts registry.

Every command is a request-reply channel (`{ns}.cmd.{service}.{name}`: a `CommandEnvelope` whose
`payload` follows the command's schema, answered by a `Reply`); every event is a channel on the
JetStream events stream (`{ns}.evt.{category}.{EventType}`: a `RecordedEvent` whose `data`
follows the event's schema). `docs/asyncapi.yaml` is this document for the default namespace; the
build fails when it is stale, and the gateway serves the same as `catalog://events`.
"""

from __future__ import annotations

from typing import Any

from maratron_contracts.envelope import CommandEnvelope, RecordedEvent, Reply
from maratron_contracts.registry import Registry, load_all
from maratron_contracts.subjects import DEFAULT_NAMESPACE, command_subject, event_subject

VERSION = "1.0.0"


def _schema(model: Any) -> dict[str, Any]:
    return dict(model.model_json_schema(ref_template="#/components/schemas/{model}"))


def _hoist(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """Move pydantic's local `$defs` into the document's shared components."""
    for name, definition in schema.pop("$defs", {}).items():
        components.setdefault(name, definition)
    return schema


def build_document(
    namespace: str = DEFAULT_NAMESPACE, registry: Registry | None = None
) -> dict[str, Any]:
    registry = registry or load_all()
    schemas: dict[str, Any] = {}
    for name, model in (("CommandEnvelope", CommandEnvelope), ("Reply", Reply),
                        ("RecordedEvent", RecordedEvent)):  # fmt: skip
        schemas[name] = _hoist(_schema(model), schemas)
    messages: dict[str, Any] = {
        "Reply": {"name": "Reply", "payload": {"$ref": "#/components/schemas/Reply"}}
    }
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for (service, name), cls in sorted(registry.commands.items()):
        key = f"cmd_{service}_{name}"
        payload_ref = f"#/components/schemas/{cls.__name__}Payload"
        schemas[f"{cls.__name__}Payload"] = _hoist(_schema(cls), schemas)
        messages[key] = {
            "name": name,
            "title": f"{service}.{name} v{cls.schema_version}",
            "summary": (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else name,
            "payload": {
                "allOf": [
                    {"$ref": "#/components/schemas/CommandEnvelope"},
                    {"properties": {"payload": {"$ref": payload_ref}}},
                ]
            },
        }  # fmt: skip
        channels[key] = {
            "address": command_subject(namespace, service, name),
            "messages": {name: {"$ref": f"#/components/messages/{key}"}},
        }
        operations[f"send_{key}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{key}"},
            "reply": {"messages": [{"$ref": "#/components/messages/Reply"}]},
            "summary": f"Command for the {service} service (queue group {namespace}-{service}).",
        }
    for etype, ecls in sorted(registry.events.items()):
        key = f"evt_{ecls.category}_{etype}"
        schemas[f"{etype}Data"] = _hoist(_schema(ecls), schemas)
        messages[key] = {
            "name": etype,
            "title": f"{etype} v{ecls.schema_version}",
            "headers": {"type": "object", "properties": {
                "Nats-Msg-Id": {"type": "string", "description": "The event id (dedup)."},
                "Maratron-Position": {"type": "string"}, "Maratron-Stream": {"type": "string"},
            }},
            "payload": {
                "allOf": [
                    {"$ref": "#/components/schemas/RecordedEvent"},
                    {"properties": {"data": {"$ref": f"#/components/schemas/{etype}Data"}}},
                ]
            },
        }  # fmt: skip
        channels[key] = {
            "address": event_subject(namespace, ecls.category, etype),
            "messages": {etype: {"$ref": f"#/components/messages/{key}"}},
        }
        operations[f"receive_{key}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{key}"},
            "summary": "Committed event, relayed from the event store to JetStream.",
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Maratron message catalog",
            "version": VERSION,
            "description": "Commands (NATS request-reply) and events (JetStream) of Maratron.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }
