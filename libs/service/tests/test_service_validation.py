"""Readable validation messages (pure)."""

from __future__ import annotations

from maratron_contracts.messages import Command
from maratron_service.validation import describe_validation_error
from pydantic import Field, ValidationError


class LogSomething(Command):
    service = "x"
    name = "log_something"
    distance_km: float = Field(gt=0)
    note: str = Field(default="", max_length=5)


def message_for(payload: dict[str, object]) -> str:
    try:
        LogSomething.model_validate(payload)
    except ValidationError as exc:
        return describe_validation_error(exc, "log_something", LogSomething)
    raise AssertionError("payload was valid")


def test_each_bad_field_is_named_with_the_fix() -> None:
    text = message_for({"note": "far too long", "speed": 3})
    assert text.startswith("invalid log_something: ")
    assert "distance_km is required: add it" in text
    assert "note string should have at most 5 characters (got 'far too long')" in text
    assert "speed is not a known field: remove it (known fields: distance_km, note)" in text


def test_wrong_values_quote_what_was_sent() -> None:
    assert message_for({"distance_km": -2}) == (
        "invalid log_something: distance_km input should be greater than 0 (got -2)"
    )


def test_long_inputs_are_shortened() -> None:
    text = message_for({"distance_km": "x" * 500})
    assert "x" * 100 not in text and "..." in text
