"""Reachability checks of external servers given by NATS_URL, DATABASE_URL and REDIS_URL.

Each check really talks to the server (NATS with JetStream, a Postgres query, a Redis PING)
and a failure becomes `Unreachable`, whose message is one line naming the variable and what was
tried. Checks run on a private event loop in a worker thread, so they work from sync code,
from pytest fixtures and from inside a running event loop alike. The client libraries are
imported only when a check runs (they take seconds to import on a busy machine).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import importlib
import os
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import urlsplit, urlunsplit

URL_VARIABLES = ("NATS_URL", "DATABASE_URL", "REDIS_URL")


class Unreachable(RuntimeError):
    """An external server named by an environment variable does not answer."""

    def __init__(self, variable: str, url: str, reason: str) -> None:
        self.variable, self.url, self.reason = variable, url, reason
        super().__init__(f"{variable} is unreachable: tried {redact(url)}: {reason}")


def redact(url: str) -> str:
    """The URL without its password, fit for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "no answer (timed out)"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def _check_nats(url: str, seconds: float) -> None:
    import nats

    async def quiet(_: Exception) -> None:  # nats-py logs tracebacks by default
        return None

    client = await nats.connect(
        url, connect_timeout=seconds, allow_reconnect=False, max_reconnect_attempts=0,
        error_cb=quiet,
    )  # fmt: skip
    try:
        try:
            await client.jetstream(timeout=seconds).account_info()
        except Exception as exc:
            raise RuntimeError(f"JetStream is not enabled ({_reason(exc)})") from exc
    finally:
        await client.close()


async def _check_postgres(url: str, seconds: float) -> None:
    import asyncpg

    connection = await asyncpg.connect(url, timeout=seconds)
    try:
        await connection.fetchval("SELECT 1")
    finally:
        await connection.close()


async def _check_redis(url: str, seconds: float) -> None:
    import redis.asyncio as redis_asyncio

    client = redis_asyncio.from_url(url, socket_connect_timeout=seconds, socket_timeout=seconds)
    try:
        await client.ping()
    finally:
        await client.aclose()


_CHECKS: dict[str, Callable[[str, float], Awaitable[None]]] = {
    "NATS_URL": _check_nats,
    "DATABASE_URL": _check_postgres,
    "REDIS_URL": _check_redis,
}


_CLIENT_MODULES = {"NATS_URL": "nats", "DATABASE_URL": "asyncpg", "REDIS_URL": "redis.asyncio"}
_DEFAULT_PORTS = {"NATS_URL": 4222, "DATABASE_URL": 5432, "REDIS_URL": 6379}


async def _probe_tcp(variable: str, url: str, seconds: float) -> None:
    """Fail fast on a refused connection (clients may retry until their own timeout)."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or _DEFAULT_PORTS[variable]
    _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), seconds)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


async def _check_all(urls: Mapping[str, str], seconds: float) -> None:
    async def one(variable: str, url: str) -> None:
        try:
            await _probe_tcp(variable, url, seconds)
            await asyncio.wait_for(_CHECKS[variable](url, seconds), seconds + 1)
        except Exception as exc:
            raise Unreachable(variable, url, _reason(exc)) from None

    results = await asyncio.gather(*(one(v, u) for v, u in urls.items()), return_exceptions=True)
    for result in results:  # report in the fixed order NATS, DATABASE, REDIS
        if isinstance(result, BaseException):
            raise result


def external_urls(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """{variable: url} of the *_URL variables set (non-empty) in `env` (default: os.environ)."""
    env = os.environ if env is None else env
    return {v: env[v] for v in URL_VARIABLES if env.get(v)}


def check_reachable(urls: Mapping[str, str], *, timeout: float = 3.0) -> None:
    """Raise `Unreachable` for the first of `urls` ({variable: url}) that does not answer."""
    unknown = set(urls) - set(_CHECKS)
    if unknown:
        raise ValueError(f"unknown variables: {sorted(unknown)}")
    ordered = {v: urls[v] for v in URL_VARIABLES if v in urls}
    if not ordered:
        return
    for variable in ordered:  # import before the clock starts: seconds on a busy machine
        importlib.import_module(_CLIENT_MODULES[variable])
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _check_all(ordered, timeout)).result()
