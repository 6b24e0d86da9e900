"""Every command subject in libs/contracts is served by its service, over real NATS.

For each service, the registry's commands and the service's handlers must be the same set, and a
request on each command's subject must reach the handler's payload model: a payload carrying an
unknown field is refused with a typed validation error that names the field. That proves the
subject, the queue group, the envelope and the payload schema agree between producer (the
gateway's `CommandClient`) and consumer (the service's `CommandBus`) without changing any state.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any
from uuid import uuid4

import pytest
from maratron_context.app import build_app as build_context
from maratron_context.settings import ContextSettings
from maratron_contracts.envelope import Actor, CommandEnvelope, Reply
from maratron_contracts.errors import ErrorCode
from maratron_contracts.registry import load_all
from maratron_contracts.subjects import command_subject
from maratron_runs.app import build_app as build_runs
from maratron_runs.settings import RunsSettings
from maratron_service.app import ServiceApp
from maratron_service.settings import Settings
from maratron_service.testing import app_in_namespace
from maratron_testing.plugin import StackUrls

SERVICES: dict[str, tuple[Callable[[Any], ServiceApp], type[Settings]]] = {
    "runs": (build_runs, RunsSettings),
    "context": (build_context, ContextSettings),
}
PROBE_FIELD = "contract_probe_field"


def _commands_of(service: str) -> list[str]:
    return sorted(name for (svc, name) in load_all().commands if svc == service)


def test_every_command_belongs_to_a_known_service() -> None:
    services = {svc for (svc, _) in load_all().commands}
    assert services <= set(SERVICES), f"commands for services without a contract test: {services}"


@pytest.fixture(params=sorted(SERVICES))
async def service_app(
    request: pytest.FixtureRequest, maratron_stack: StackUrls, namespace: str
) -> AsyncIterator[ServiceApp]:
    build, settings_cls = SERVICES[request.param]
    async with app_in_namespace(
        maratron_stack, build, settings_cls, namespace, relay_enabled=False
    ) as app:
        yield app


async def test_handlers_match_the_registry(service_app: ServiceApp) -> None:
    assert service_app.bus is not None
    service = service_app.bus.service
    assert sorted(service_app.bus.routes) == _commands_of(service)


async def test_each_subject_reaches_its_payload_model(service_app: ServiceApp) -> None:
    assert service_app.bus is not None
    service = service_app.bus.service
    namespace = service_app.settings.namespace
    for name in _commands_of(service):
        envelope = CommandEnvelope(
            command_id=uuid4(),
            command=name,
            athlete_id="contract-athlete",
            actor=Actor(subject="contract-athlete", auth_method="jwt"),
            payload={PROBE_FIELD: 1},
        )
        msg = await service_app.nats.request(
            command_subject(namespace, service, name),
            envelope.model_dump_json().encode(),
            timeout=5,
        )
        reply = Reply.model_validate_json(msg.data)
        assert not reply.ok, f"{service}.{name} accepted an unknown field"
        assert reply.error is not None and reply.error.code is ErrorCode.VALIDATION, name
        assert PROBE_FIELD in reply.error.message, (name, reply.error.message)
    assert await service_app.store.head() == 0, "a refused command appended events"
