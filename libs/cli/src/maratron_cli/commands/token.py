"""`maratron token`: print a development JWT signed by the data folder's key."""

from __future__ import annotations

import argparse
import re
import sys

from maratron_devstack.paths import data_dir
from maratron_devstack.tokens import (
    DEV_AUDIENCE,
    DEV_ISSUER,
    DEV_SCOPES,
    DEV_SUBJECT,
    key_paths,
    load_or_create_keypair,
    mint_token,
)

from maratron_cli.errors import CliError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_ttl(text: str) -> int:
    """Seconds from `3600`, `45s`, `15m`, `12h` or `30d`."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", text)
    if match is None or int(match[1]) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: use seconds or a number with s, m, h or d")
    return int(match[1]) * _UNITS[match[2] or "s"]


def _words(values: list[str] | None) -> list[str]:
    """`--roles admin coach` and `--roles admin,coach` alike."""
    return [w for value in values or [] for w in re.split(r"[,\s]+", value) if w]


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "token",
        help="print a development access token",
        description="Print a JWT signed by the signing key in the data folder (created on "
        "first use), accepted by a gateway started with `maratron up`.",
    )
    parser.add_argument("--subject", "--sub", default=DEV_SUBJECT, help="token subject (athlete)")
    parser.add_argument("--roles", nargs="+", action="extend", help="roles, e.g. admin")
    parser.add_argument(
        "--scopes", nargs="+", action="extend", help=f"scopes (default: {' '.join(DEV_SCOPES)})"
    )
    parser.add_argument("--ttl", type=parse_ttl, default="30d", help="lifetime (default 30d)")
    parser.add_argument("--client-id", help="optional client_id claim")
    parser.add_argument("--issuer", default=DEV_ISSUER, help=argparse.SUPPRESS)
    parser.add_argument("--audience", default=DEV_AUDIENCE, help=argparse.SUPPRESS)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if not args.subject.strip():
        raise CliError("--subject must not be empty")
    keys_dir = data_dir() / "keys"
    private_path, _ = key_paths(keys_dir)
    if not private_path.exists():
        print(f"maratron token: created a new signing key in {keys_dir}", file=sys.stderr)
    try:
        keys = load_or_create_keypair(keys_dir)
    except OSError as exc:
        raise CliError(f"cannot read or create the signing key in {keys_dir}: {exc}") from None
    scopes = _words(args.scopes) if args.scopes else list(DEV_SCOPES)
    print(
        mint_token(
            keys,
            subject=args.subject,
            scopes=scopes,
            roles=_words(args.roles),
            ttl_seconds=args.ttl,
            issuer=args.issuer,
            audience=args.audience,
            client_id=args.client_id,
        )
    )
    return 0
