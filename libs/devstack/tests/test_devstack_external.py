"""Reachability checks of external servers: real answers pass, each failure names its variable."""

from __future__ import annotations

import pytest
from maratron_devstack.external import Unreachable, check_reachable, redact
from maratron_devstack.ports import free_port
from maratron_testing.plugin import StackUrls


def _urls(stack: StackUrls) -> dict[str, str]:
    return {
        "NATS_URL": stack.nats_url,
        "DATABASE_URL": stack.database_url,
        "REDIS_URL": stack.redis_url,
    }


def test_live_servers_pass(maratron_stack: StackUrls) -> None:
    check_reachable(_urls(maratron_stack))


def test_a_missing_database_names_database_url(maratron_stack: StackUrls) -> None:
    urls = _urls(maratron_stack)
    urls["DATABASE_URL"] = urls["DATABASE_URL"].rsplit("/", 1)[0] + "/no_such_db"
    with pytest.raises(Unreachable) as caught:
        check_reachable(urls)
    assert caught.value.variable == "DATABASE_URL"
    assert "no_such_db" in str(caught.value) and "does not exist" in str(caught.value)


def test_a_closed_port_names_its_variable(maratron_stack: StackUrls) -> None:
    urls = _urls(maratron_stack)
    urls["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
    with pytest.raises(Unreachable) as caught:
        check_reachable(urls)
    assert caught.value.variable == "REDIS_URL"
    assert str(caught.value).startswith(f"REDIS_URL is unreachable: tried {urls['REDIS_URL']}: ")
    assert "\n" not in str(caught.value)


def test_passwords_are_not_printed() -> None:
    assert redact("postgresql://u:secret@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert redact("redis://h:6379/0") == "redis://h:6379/0"
