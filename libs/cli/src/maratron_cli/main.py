"""Entry point of `maratron`: builds the parser from the registered command groups."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from maratron_cli.commands import GROUPS
from maratron_cli.errors import CliError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="maratron",
        description="Maratron: a running log for AI assistants, over MCP.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in GROUPS:
        group.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except CliError as exc:
        print(f"maratron {args.command}: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return code
