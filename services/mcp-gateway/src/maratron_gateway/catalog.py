"""The `catalog://events` resource: the message catalog (AsyncAPI 3.0, JSON) of this install —
every command and event subject with its payload schema, as in docs/asyncapi.yaml."""

from __future__ import annotations

import json
from functools import cache

from fastmcp import FastMCP
from maratron_contracts.asyncapi import build_document

from maratron_gateway.deps import GatewayDeps


@cache
def _document(namespace: str) -> str:
    return json.dumps(build_document(namespace), sort_keys=True)


def register(mcp: FastMCP, deps: GatewayDeps) -> None:
    @mcp.resource("catalog://events", mime_type="application/json", name="event_catalog")
    async def event_catalog() -> str:
        """The event catalog with schemas: commands (NATS request-reply) and events
        (JetStream) of Maratron, as an AsyncAPI 3.0 document."""
        return _document(deps.settings.namespace)
