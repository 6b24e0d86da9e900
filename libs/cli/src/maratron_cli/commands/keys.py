"""`maratron keys create|list|revoke`: API keys, the second way to authenticate (beside JWTs).

The key is printed once, at creation; only a hash of its secret is stored."""

from __future__ import annotations

import argparse
import asyncio
import re
from datetime import UTC, datetime, timedelta

from maratron_contracts.errors import MaratronError

from maratron_cli.commands.token import parse_ttl
from maratron_cli.errors import CliError
from maratron_cli.operator import connect
from maratron_cli.output import FORMATS, render

COLUMNS = ("key_id", "subject", "scopes", "roles", "name", "created_at", "expires_at", "revoked")


def _words(values: list[str] | None) -> list[str]:
    return [w for value in values or [] for w in re.split(r"[,\s]+", value) if w]


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("keys", help="create, list and revoke API keys")
    sub = parser.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    create = sub.add_parser("create", help="create a key (printed once)")
    create.add_argument("--subject", required=True, help="the athlete or principal it acts as")
    create.add_argument("--scopes", nargs="+", action="extend", required=True,
                        help="e.g. runs:read runs:write")  # fmt: skip
    create.add_argument("--roles", nargs="+", action="extend", help="e.g. admin")
    create.add_argument("--expires", type=parse_ttl, help="lifetime, e.g. 90d (default: none)")
    create.add_argument("--name", help="a label to recognise the key by")
    create.set_defaults(handler=run)
    listing = sub.add_parser("list", help="list keys (never their secrets)")
    listing.add_argument("--subject", help="only this subject's keys")
    listing.add_argument("--format", choices=FORMATS, default="table")
    listing.set_defaults(handler=run)
    revoke = sub.add_parser("revoke", help="revoke a key at once, on every gateway")
    revoke.add_argument("key_id", help="the key id shown by `maratron keys list`")
    revoke.set_defaults(handler=run)


async def _run(args: argparse.Namespace) -> int:
    async with connect() as conns:
        access = conns.access()
        try:
            if args.keys_command == "create":
                scopes = _words(args.scopes)
                expires = (
                    datetime.now(UTC) + timedelta(seconds=args.expires) if args.expires else None
                )
                info, plaintext = await access.issue_key(
                    args.subject.strip(), scopes, roles=_words(args.roles), name=args.name,
                    expires_at=expires,
                )  # fmt: skip
                print(plaintext)
                print(
                    f"key {info.key_id} for {info.subject} ({' '.join(info.scopes)}); "
                    "shown once: store it now. Use it as 'Authorization: Bearer <key>'.",
                    flush=True,
                )
            elif args.keys_command == "list":
                keys = await access.list_keys(args.subject)
                rows = [k.model_dump(mode="json") for k in keys]
                print(render(rows, COLUMNS, args.format) if rows or args.format != "table"
                      else "no API keys")  # fmt: skip
            else:
                info = await access.revoke_key(args.key_id)
                print(f"revoked key {info.key_id} of {info.subject}")
        except MaratronError as exc:
            raise CliError(exc.message) from None
    return 0


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))
