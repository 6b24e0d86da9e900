"""A tiny asyncio HTTP/1.1 server for probes and metrics (GET only, one response per
connection). Small on purpose: `/healthz`, `/readyz` and `/metrics` need nothing more, and it
keeps web frameworks out of the services that do not serve HTTP otherwise."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

log = logging.getLogger(__name__)

_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}
_MAX_HEAD = 16 * 1024


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"


Route = Callable[[], Awaitable[Response]]


class HttpServer:
    def __init__(self, host: str, port: int, routes: Mapping[str, Route]) -> None:
        self.host = host
        self.requested_port = port
        self.routes = dict(routes)
        self.port: int | None = None
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        """Listen; returns the bound port (a free one when the requested port is 0)."""
        self._server = await asyncio.start_server(self._handle, self.host, self.requested_port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            if len(head) > _MAX_HEAD:
                return
            method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
            path = target.split("?", 1)[0]
            route = self.routes.get(path)
            if route is None:
                response = Response(404, b"not found\n")
            elif method not in ("GET", "HEAD"):
                response = Response(405, b"method not allowed\n")
            else:
                response = await route()
            body = b"" if method == "HEAD" else response.body
            writer.write(
                (
                    f"HTTP/1.1 {response.status} {_REASONS.get(response.status, '')}\r\n"
                    f"Content-Type: {response.content_type}\r\n"
                    f"Content-Length: {len(response.body)}\r\n"
                    "Connection: close\r\n\r\n"
                ).encode("latin-1")
                + body
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
            pass
        except Exception:
            log.exception("HTTP handler failed")
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
