"""The HTTP (ASGI) layer of the security package, around the whole app.

* `HttpDenialAudit` (outermost): every request the HTTP layer refuses - 401 (missing or bad
  token), 403 (insufficient scope, foreign Origin), 413, 421 (foreign Host) - is recorded as a
  denial; nothing else is touched.
* `BodyLimit`: a request body over `max_request_bytes` gets 413 (by Content-Length before
  anything is read, or while streaming a chunked body).
* `McpHostOriginGuard` (inside fastmcp's bearer authentication): fastmcp's Host/Origin guard
  in strict mode (DNS-rebinding protection: loopback plus `allowed_hosts` /
  `allowed_origins`) on the MCP path only, so probes from a cluster (Host = the pod's address)
  keep working. A request without a verified token is left to the 401 of the endpoint: a
  rebinding page has no bearer token, so it is refused either way.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from fastmcp.server.http import HostOriginGuardMiddleware
from maratron_contracts.access import DenialReason
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from maratron_gateway.security.denials import DenialRecorder
from maratron_gateway.security.settings import SecuritySettings

_REASONS = {
    401: DenialReason.UNAUTHORIZED,
    403: DenialReason.FORBIDDEN,
    413: DenialReason.INVALID_INPUT,
    421: DenialReason.FORBIDDEN,
}


def _header(headers: Sequence[tuple[bytes, bytes]], name: bytes) -> str:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


class HttpDenialAudit:
    def __init__(self, app: ASGIApp, recorder: DenialRecorder) -> None:
        self._app = app
        self._recorder = recorder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in _REASONS:
                self._record(scope, message)
            await send(message)

        await self._app(scope, receive, watch)

    def _record(self, scope: Scope, message: Message) -> None:
        status: int = message["status"]
        challenge = _header(message.get("headers", ()), b"www-authenticate")
        reason = _REASONS[status]
        if status == 403 and "insufficient_scope" in challenge:
            reason = DenialReason.INSUFFICIENT_SCOPE
        user = scope.get("user")
        principal = client_id = None
        if isinstance(user, AuthenticatedUser):
            principal = user.access_token.subject or None
            client_id = user.access_token.client_id
        detail = (challenge or "no bearer token") if status == 401 else challenge
        self._recorder.record(
            reason,
            f"HTTP {status}" + (f": {detail}" if detail else ""),
            principal=principal,
            client_id=client_id,
            tool=f"{scope.get('method', '')} {scope.get('path', '')}",
        )


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self._app = app
        self._max = max_bytes

    async def _reject(self, send: Send) -> None:
        body = json.dumps(
            {"error": "request_too_large", "error_description": f"limit {self._max} bytes"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        declared = _header(scope.get("headers", ()), b"content-length")
        if declared.isdigit() and int(declared) > self._max:
            await self._reject(send)
            return
        received = 0
        too_large = False
        started = False

        async def counted() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self._max:
                    too_large = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if too_large:
                return  # the app's answer to a cut-off body is replaced by the 413
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._app(scope, counted, guarded_send)
        except Exception:
            if not too_large:
                raise  # the app's own failure; a cut-off body's consequences are ours
        if too_large and not started:
            await self._reject(send)


class McpHostOriginGuard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        path: str,
        allowed_hosts: Sequence[str],
        allowed_origins: Sequence[str],
    ) -> None:
        self._app = app
        self._path = path.rstrip("/")
        self._guarded = HostOriginGuardMiddleware(
            app, allowed_hosts=allowed_hosts, allowed_origins=allowed_origins, mode="strict"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        on_mcp = path == self._path or path.startswith(self._path + "/")
        if on_mcp and isinstance(scope.get("user"), AuthenticatedUser):
            await self._guarded(scope, receive, send)
        else:
            await self._app(scope, receive, send)


def inner_middleware(mcp_path: str, settings: SecuritySettings) -> list[Middleware]:
    """For `http_app(middleware=...)`: runs after fastmcp's bearer authentication."""
    return [
        Middleware(
            McpHostOriginGuard,
            path=mcp_path,
            allowed_hosts=settings.allowed_hosts,
            allowed_origins=settings.allowed_origins,
        )
    ]


def secure_app(app: Starlette, settings: SecuritySettings, recorder: DenialRecorder) -> None:
    """Install the outer HTTP layer on `app` (before it starts): the denial audit outermost,
    then the body limit, then fastmcp's own stack."""
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(HttpDenialAudit, recorder=recorder)
