"""Fixtures of the operator-command tests: a runs service on the real stack, the CLI pointed at
it through the *_URL variables, and `cli(...)` to run a command and capture its output."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from maratron_cli.main import main
from maratron_runs.app import build_app
from maratron_runs.settings import RunsSettings
from maratron_service.app import ServiceApp
from maratron_service.testing import app_in_namespace
from maratron_testing.plugin import StackUrls

Cli = Callable[..., Awaitable[tuple[int, str]]]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    """Run `maratron ARGV...` (in a thread: it runs its own event loop) -> (exit code, stdout)."""

    async def run(*argv: str) -> tuple[int, str]:
        capsys.readouterr()
        code = await asyncio.to_thread(main, list(argv))
        return code, capsys.readouterr().out

    return run


@pytest.fixture
async def runs_app(
    maratron_stack: StackUrls, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[ServiceApp]:
    for var, value in (("NATS_URL", maratron_stack.nats_url),
                       ("DATABASE_URL", maratron_stack.database_url),
                       ("REDIS_URL", maratron_stack.redis_url),
                       ("MARATRON_NAMESPACE", namespace)):  # fmt: skip
        monkeypatch.setenv(var, value)
    async with app_in_namespace(
        maratron_stack, build_app, RunsSettings, namespace, relay_enabled=False
    ) as app:
        yield app
