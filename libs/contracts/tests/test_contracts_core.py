"""Envelope, error and registry behaviour that every service relies on."""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import uuid4

import pytest
from maratron_contracts.envelope import Actor, CommandEnvelope, Outcome, Reply
from maratron_contracts.errors import ErrorCode, NotFound, ValidationFailed, error_for
from maratron_contracts.messages import Event
from maratron_contracts.registry import Registry, UnknownEventType
from maratron_contracts.subjects import (
    check_namespace,
    command_subject,
    event_subject,
    events_stream_name,
)
from pydantic import ValidationError


def test_reply_round_trip_keeps_typed_error() -> None:
    command_id = uuid4()
    reply = Reply.failure(command_id, NotFound("run r1 not found: list_runs shows your run ids"))
    wire = Reply.model_validate_json(reply.model_dump_json())
    with pytest.raises(NotFound, match="list_runs shows"):
        wire.unwrap()
    assert wire.error is not None and wire.error.code is ErrorCode.NOT_FOUND


def test_reply_success_unwraps_outcome() -> None:
    outcome = Outcome(stream_id="run:1", stream_version=1, global_position=7, data={"x": 1})
    assert Reply.success(uuid4(), outcome).unwrap() == outcome


def test_error_for_unknown_code_is_rejected() -> None:
    assert isinstance(error_for("validation", "bad"), ValidationFailed)
    with pytest.raises(ValueError):
        error_for("nonsense", "bad")


def test_envelope_forbids_unknown_fields() -> None:
    actor = Actor(subject="a1", roles=("athlete",))
    CommandEnvelope(command_id=uuid4(), command="log_run", athlete_id="a1", actor=actor)
    with pytest.raises(ValidationError):
        CommandEnvelope.model_validate(
            {
                "command_id": str(uuid4()),
                "command": "log_run",
                "athlete_id": "a1",
                "actor": {"subject": "a1"},
                "user_id": "someone-else",
            }
        )


def test_subjects_follow_the_design() -> None:
    assert command_subject("maratron", "runs", "log_run") == "maratron.cmd.runs.log_run"
    assert event_subject("maratron", "runs", "RunLogged") == "maratron.evt.runs.RunLogged"
    assert events_stream_name("maratron") == "MARATRON_EVENTS"
    with pytest.raises(ValueError):
        check_namespace("Bad.Name")


class _Renamed(Event):
    category: ClassVar[str] = "test"
    event_type: ClassVar[str] = "ThingRenamed"
    schema_version: ClassVar[int] = 3
    title: str
    subtitle: str


def _registry() -> Registry:
    registry = Registry()
    registry.event(_Renamed)

    @registry.upcaster("ThingRenamed", 1)
    def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
        return {"title": data.pop("name")}

    @registry.upcaster("ThingRenamed", 2)
    def _v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "subtitle": ""}

    return registry


def test_upcasters_chain_from_any_old_version() -> None:
    registry = _registry()
    assert registry.decode("ThingRenamed", 1, {"name": "x"}) == _Renamed(title="x", subtitle="")
    assert registry.decode("ThingRenamed", 2, {"title": "y"}) == _Renamed(title="y", subtitle="")
    current = registry.decode("ThingRenamed", 3, {"title": "z", "subtitle": "s"})
    assert current == _Renamed(title="z", subtitle="s")


def test_missing_upcaster_step_is_an_error() -> None:
    registry = Registry()
    registry.event(_Renamed)
    with pytest.raises(ValueError, match="no upcaster"):
        registry.upcast("ThingRenamed", 1, {})
    with pytest.raises(UnknownEventType):
        registry.event_class("Nope")


def test_duplicate_registration_is_refused() -> None:
    registry = _registry()

    class _Other(Event):
        category: ClassVar[str] = "test"
        event_type: ClassVar[str] = "ThingRenamed"

    with pytest.raises(ValueError, match="registered twice"):
        registry.event(_Other)
