"""pytest plugin: one real stack per test session.

Fixtures:
  maratron_stack  (session)  -> StackUrls: NATS, Postgres and Redis URLs plus a random namespace.
  namespace       (function) -> a fresh namespace, for tests that need an empty world.

Each of NATS_URL, DATABASE_URL, REDIS_URL that is set names an external server (checked first:
an unreachable one ends the session with one error line naming the variable); the others are
started embedded (maratron_devstack) ONCE per session, in a temporary folder that is deleted
at the end. Nothing starts unless a test asks for `maratron_stack`. Tests that use it are
marked `integration` automatically.

Parallel runs (pytest-xdist, `-n 2 --dist loadgroup`, as `make test` does): every worker is its
own session, so it starts its own embedded stack with its own random namespace. Tests that
share an expensive fixture (session-scoped in a conftest, or module/class-scoped) form one
group, run by one worker, so that fixture is built once (`shared_fixture_group`; an explicit
`xdist_group` mark wins); see `maratron_testing.parallel`.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from maratron_devstack.external import URL_VARIABLES, Unreachable, external_urls, redact
from maratron_devstack.process import StartError
from maratron_devstack.stack import StackUrls, new_namespace, open_stack

__all__ = ["StackUrls", "maratron_stack", "namespace", "new_namespace"]

GROUPS_FOLDER = "maratron_groups_folder"  # key of the xdist worker input naming the folder
_groups_folder = pytest.StashKey[Path]()


def pytest_report_header(config: pytest.Config) -> str:
    given = external_urls()
    parts = [f"{v}={redact(given[v])}" if v in given else f"{v}: embedded" for v in URL_VARIABLES]
    return "maratron stack (started on first use): " + ", ".join(parts)


# tryfirst: the groups must be set before xdist's worker reads them (it appends "@group" to
# every node id in its own pytest_collection_modifyitems).
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test that uses the stack is an integration test (CI runs those again against
    the machine's own servers), marked or not. On an xdist worker: write each test's group
    for the controller's scheduler."""
    for item in items:
        if "maratron_stack" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.integration)
    worker_input = getattr(config, "workerinput", None)
    if worker_input is not None and GROUPS_FOLDER in worker_input:
        from maratron_testing.parallel import write_groups

        groups = {item.nodeid: group for item in items if (group := group_of(item)) is not None}
        write_groups(Path(worker_input[GROUPS_FOLDER]), worker_input["workerid"], groups)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: tell each worker where to write its groups."""
    config = node.config
    if _groups_folder not in config.stash:
        config.stash[_groups_folder] = Path(tempfile.mkdtemp(prefix="maratron-groups-"))
    node.workerinput[GROUPS_FOLDER] = str(config.stash[_groups_folder])


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadgroup`: our scheduler (xdist's own cannot read groups under pytest 9.2)."""
    if config.getvalue("dist") != "loadgroup" or _groups_folder not in config.stash:
        return None
    from maratron_testing.parallel import GroupScheduling

    return GroupScheduling(config, log, config.stash[_groups_folder])


def pytest_unconfigure(config: pytest.Config) -> None:
    if _groups_folder in config.stash:
        shutil.rmtree(config.stash[_groups_folder], ignore_errors=True)


def group_of(item: pytest.Item) -> str | None:
    """An explicit `xdist_group` mark, else `shared_fixture_group`."""
    marks = [str(m.args[0] if m.args else m.kwargs.get("name", "default"))
             for m in item.iter_markers("xdist_group")]  # fmt: skip
    if marks:
        return "_".join(sorted(set(marks)))
    return shared_fixture_group(item)


def shared_fixture_group(item: pytest.Item) -> str | None:
    """The xdist group of a test: the folder of the conftest (or the module) defining a
    session-scoped fixture it uses (a cluster of processes, say), else its module when it uses
    a module-, package- or class-scoped fixture; None when every fixture it uses is either
    per test or a plugin's (each worker has its own `maratron_stack` anyway)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return None
    sessions: set[str] = set()
    module = False
    for name in info.names_closure:
        definitions = info.name2fixturedefs.get(name)
        if not definitions:
            continue
        definition = definitions[-1]  # the one this test gets (closest override)
        if not definition.baseid:  # a plugin's fixture (maratron_stack, pytest-asyncio's loops)
            continue
        if definition.scope == "session":
            sessions.add(definition.baseid)
        elif definition.scope in ("package", "module", "class"):
            module = True
    if sessions:
        return "session:" + "+".join(sorted(sessions))
    if module:
        return "module:" + item.nodeid.split("::", 1)[0]
    return None


@pytest.fixture(scope="session")
def maratron_stack() -> Iterator[StackUrls]:
    with contextlib.ExitStack() as cleanup:
        folder = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="maratron-test-")))
        try:
            running = cleanup.enter_context(
                open_stack(folder / "data", namespace=new_namespace(), durable=False,
                           ephemeral=True)
            )  # fmt: skip
        except Unreachable as exc:  # the whole session is misconfigured: one error, stop
            pytest.exit(str(exc), returncode=pytest.ExitCode.TESTS_FAILED)
        except StartError as exc:
            pytest.exit(
                f"the embedded stack did not start: {exc}", returncode=pytest.ExitCode.TESTS_FAILED
            )
        yield running.urls


@pytest.fixture
def namespace() -> str:
    return new_namespace()
