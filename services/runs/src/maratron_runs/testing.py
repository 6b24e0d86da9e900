"""Test support for the runs service: a handle on a running service (command client, read-model
readers, event store), used by this package's tests and benchmarks."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from maratron_contracts.envelope import Actor, CommandEnvelope, Outcome, Reply
from maratron_contracts.messages import Command
from maratron_contracts.runs import SERVICE, RegisterAthlete
from maratron_service.app import ServiceApp
from maratron_service.client import CommandClient

from maratron_runs.queries import RunsQueries


@dataclass
class RunsWorld:
    app: ServiceApp
    client: CommandClient
    queries: RunsQueries
    namespace: str

    async def send(self, cmd: Command, athlete_id: str, **kw: Any) -> Outcome:
        return await self.client.send(SERVICE, cmd, athlete_id, Actor(subject=athlete_id), **kw)

    async def raw(self, command: str, payload: dict[str, Any], athlete_id: str) -> Reply:
        """Send an unchecked payload (as a buggy or hostile client could)."""
        envelope = CommandEnvelope(
            command_id=UUID(bytes=secrets.token_bytes(16)),
            command=command,
            athlete_id=athlete_id,
            actor=Actor(subject=athlete_id),
            payload=payload,
        )
        return await self.client.request(SERVICE, envelope)

    async def head(self) -> int:
        return await self.app.store.head()

    async def new_athlete(self, **fields: Any) -> str:
        athlete_id = f"ath-{secrets.token_hex(4)}"
        register = {"name": "Ann Runner", "email": "ann@example.org", **fields}
        await self.send(RegisterAthlete.model_validate(register), athlete_id)
        return athlete_id
