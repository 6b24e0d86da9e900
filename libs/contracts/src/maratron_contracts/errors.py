"""Typed error codes shared by services, gateway and clients.

A service raises a `MaratronError`; the command loop turns it into `Reply.error`; the gateway
turns that into an MCP tool error whose text is `message` (what was wrong and how to fix it).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    VALIDATION = "validation"
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    CONFLICT = "conflict"
    UNAVAILABLE = "unavailable"
    UNAUTHORIZED = "unauthorized"
    RATE_LIMITED = "rate_limited"
    INTERNAL = "internal"


class MaratronError(Exception):
    """Base for every error that crosses a process boundary with a typed code."""

    code: ErrorCode = ErrorCode.INTERNAL

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message


class ValidationFailed(MaratronError):
    code = ErrorCode.VALIDATION


class NotFound(MaratronError):
    code = ErrorCode.NOT_FOUND


class Forbidden(MaratronError):
    code = ErrorCode.FORBIDDEN


class Conflict(MaratronError):
    code = ErrorCode.CONFLICT


class Unavailable(MaratronError):
    code = ErrorCode.UNAVAILABLE


class Unauthorized(MaratronError):
    code = ErrorCode.UNAUTHORIZED


class RateLimited(MaratronError):
    code = ErrorCode.RATE_LIMITED


_BY_CODE: dict[ErrorCode, type[MaratronError]] = {
    cls.code: cls
    for cls in (
        ValidationFailed,
        NotFound,
        Forbidden,
        Conflict,
        Unavailable,
        Unauthorized,
        RateLimited,
        MaratronError,
    )
}


def error_for(code: ErrorCode | str, message: str, **details: Any) -> MaratronError:
    """Rebuild the typed exception for an error code received over the wire."""
    return _BY_CODE.get(ErrorCode(code), MaratronError)(message, **details)
