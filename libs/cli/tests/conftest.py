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
from maratron_service.testing import drop_namespace, running_app, settings_for
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
    settings = settings_for(maratron_stack, RunsSettings, namespace, relay_enabled=False)
    try:
        async with running_app(build_app, settings) as app:
            yield app
    finally:
        await drop_namespace(maratron_stack, namespace)
