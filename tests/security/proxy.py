"""A tiny round-robin HTTP/1.1 reverse proxy for tests (asyncio, loopback only).

Each client connection carries one request: the proxy forwards it to the next backend with
`Connection: close`, streams the answer back and closes, so consecutive requests of one client
alternate between replicas like behind a load balancer without session affinity.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Sequence
from urllib.parse import urlsplit


class RoundRobinProxy:
    def __init__(self, backends: Sequence[str]) -> None:
        self._backends = [
            (u.hostname or "127.0.0.1", u.port or 80) for u in map(urlsplit, backends)
        ]
        self._next = itertools.cycle(range(len(self._backends)))
        self.served: list[int] = [0] * len(self._backends)
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[object]] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            kept = [ln for ln in lines[1:] if ln and not ln.lower().startswith("connection:")]
            length = next(
                (
                    int(ln.split(":", 1)[1])
                    for ln in kept
                    if ln.lower().startswith("content-length:")
                ),
                0,
            )
            body = await reader.readexactly(length)
            index = next(self._next)
            self.served[index] += 1
            host, port = self._backends[index]
            up_reader, up_writer = await asyncio.open_connection(host, port)
            request = "\r\n".join([lines[0], *kept, "Connection: close", "", ""]).encode("latin-1")
            up_writer.write(request + body)
            await up_writer.drain()
            while chunk := await up_reader.read(65536):
                writer.write(chunk)
                await writer.drain()
            up_writer.close()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[str]:
        """Serve on a free loopback port; yields the proxied MCP URL."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        try:
            yield f"http://127.0.0.1:{self.port}/mcp"
        finally:
            self._server.close()
            # Connections still open (a client that kept one idle) end here, not when the
            # event loop is torn down with their handlers suspended.
            for task in list(self._handlers):
                task.cancel()
            await asyncio.gather(*self._handlers, return_exceptions=True)
            await self._server.wait_closed()
