"""The plugin's fixtures against the real stack, and its error for an unreachable server."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import asyncpg
import nats
import pytest
import redis.asyncio as redis_asyncio
from maratron_testing.plugin import StackUrls

pytestmark = pytest.mark.integration


async def test_stack_serves_nats_postgres_redis(maratron_stack: StackUrls) -> None:
    connection = await asyncpg.connect(maratron_stack.database_url)
    try:
        assert await connection.fetchval("SELECT 41 + 1") == 42
    finally:
        await connection.close()

    client = redis_asyncio.from_url(maratron_stack.redis_url)
    try:
        await client.set(f"{maratron_stack.namespace}:probe", "1")
        assert await client.get(f"{maratron_stack.namespace}:probe") == b"1"
    finally:
        await client.aclose()

    nc = await nats.connect(maratron_stack.nats_url)
    try:
        js = nc.jetstream()
        info = await js.account_info()
        assert info is not None
        sub = await nc.subscribe(f"{maratron_stack.namespace}.probe")
        await nc.publish(f"{maratron_stack.namespace}.probe", b"hi")
        message = await sub.next_msg(timeout=5)
        assert message.data == b"hi"
    finally:
        await nc.close()


def test_namespaces_are_fresh_and_valid(maratron_stack: StackUrls, namespace: str) -> None:
    assert namespace != maratron_stack.namespace
    assert namespace[0].isalpha() and namespace.islower() and len(namespace) <= 32


def test_unreachable_server_fails_with_one_line_naming_the_variable(tmp_path: Path) -> None:
    (tmp_path / "test_probe_unreachable.py").write_text(
        textwrap.dedent(
            """
            def test_needs_stack(maratron_stack):
                pass

            def test_needs_it_too(maratron_stack):
                pass
            """
        )
    )
    env = {
        **os.environ,
        "NATS_URL": "nats://127.0.0.1:1",
        "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/test",
        "REDIS_URL": "redis://127.0.0.1:1/0",
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir",
         str(tmp_path), "-c", os.devnull, str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if "is unreachable" in line]
    assert len(lines) == 1, done.stdout
    assert "NATS_URL is unreachable: tried nats://127.0.0.1:1" in lines[0]
    assert "Traceback" not in done.stdout


pytest_plugins = ["pytester"]


def test_tests_sharing_an_expensive_fixture_are_grouped(pytester: pytest.Pytester) -> None:
    """Parallel runs keep a conftest's session fixture, and a module's fixture, on one worker."""
    suite = pytester.mkpydir("suite")
    (suite / "conftest.py").write_text(
        textwrap.dedent(
            """
            import pytest

            @pytest.fixture(scope="session")
            def cluster():
                return 1
            """
        )
    )
    (suite / "test_a.py").write_text(
        textwrap.dedent(
            """
            import pytest

            @pytest.fixture(scope="module")
            def app():
                return 2

            def test_cluster(cluster): pass
            def test_app(app): pass
            def test_both(cluster, app): pass
            def test_alone(tmp_path): pass
            @pytest.mark.xdist_group("mine")
            def test_marked(cluster): pass
            """
        )
    )
    from maratron_testing.plugin import group_of

    items, _ = pytester.inline_genitems(
        "-p", "no:cacheprovider", "-o", "asyncio_default_fixture_loop_scope=function"
    )  # fmt: skip
    groups = {item.name: group_of(item) for item in items}
    assert groups == {
        "test_cluster": "session:suite",
        "test_app": "module:suite/test_a.py",
        "test_both": "session:suite",
        "test_alone": None,
        "test_marked": "mine",
    }
