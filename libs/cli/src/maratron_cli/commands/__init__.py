"""The command groups of `maratron`: THE place where a group is registered.

A group is a module with `register(commands)`, which adds its sub-parser(s) to the
`argparse` sub-parsers object and sets `handler` (a `(argparse.Namespace) -> int` returning the
exit code) with `parser.set_defaults(handler=...)`. A handler reports a user error by raising
`maratron_cli.errors.CliError` (one line, no traceback). To add a group, write
`commands/<group>.py` and append it to `GROUPS`.
"""

from __future__ import annotations

import argparse
from typing import Protocol

from maratron_cli.commands import audit, catalog, keys, replay, seed, token, up, verify


class CommandGroup(Protocol):
    def register(self, commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None: ...


GROUPS: tuple[CommandGroup, ...] = (up, token, keys, seed, replay, verify, audit, catalog)
