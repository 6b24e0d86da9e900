"""Readable validation errors: each bad field, what was wrong, and how to fix it.

The text travels back to the MCP client as a tool error, so it speaks to the person (or agent)
who sent the input, not to a developer reading pydantic's internals.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

_MAX_INPUT = 60


def _field(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(input)"


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_INPUT else text[: _MAX_INPUT - 3] + "..."


def _fix(error: Any, model: type[BaseModel] | None) -> str:
    kind = error["type"]
    if kind == "missing":
        return "is required: add it"
    if kind == "extra_forbidden":
        allowed = ", ".join(sorted(model.model_fields)) if model is not None else ""
        known = f" (known fields: {allowed})" if allowed else ""
        return f"is not a known field: remove it{known}"
    message = str(error["msg"])
    # pydantic says e.g. "Input should be greater than 0": that is already how to fix it.
    return f"{message[0].lower()}{message[1:]} (got {_shown(error.get('input'))})"


def describe_validation_error(
    exc: ValidationError, what: str, model: type[BaseModel] | None = None
) -> str:
    """`invalid log_run: distance: input should be greater than 0 (got -5); date: is required`."""
    problems = [f"{_field(err['loc'])} {_fix(err, model)}" for err in exc.errors(include_url=False)]
    return f"invalid {what}: " + "; ".join(problems)
