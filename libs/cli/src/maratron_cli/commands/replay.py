"""`maratron replay`: rebuild read models from the event store (blue/green), or a copy as of a
point in time."""

from __future__ import annotations

import argparse
import asyncio
from datetime import datetime

from maratron_projections.rebuild import rebuild

from maratron_cli.errors import CliError
from maratron_cli.operator import all_projections, connect
from maratron_cli.output import ProgressBar


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "replay",
        help="rebuild read models from the event store",
        description="Read every event from Postgres (never NATS), rebuild the read models into a "
        "new Redis key space, then switch the live one atomically. Interrupted, it resumes. "
        "With --until, builds a point-in-time copy that `maratron audit --as-of` reads.",
    )
    parser.add_argument(
        "--projection",
        default="all",
        help="projection name to rebuild (default: all); see the list with --projection list",
    )
    parser.add_argument("--until", help="ISO time or global position: build a point-in-time copy")
    parser.set_defaults(handler=run)


async def _until_position(value: str | None, conns: object) -> int | None:
    if value is None:
        return None
    if value.isdigit():
        return int(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CliError(f"--until {value!r}: give a global position or an ISO time") from None
    if moment.tzinfo is None:
        raise CliError(f"--until {value!r}: add a time zone, e.g. {value}+00:00")
    position: int = await conns.store.position_at(moment)  # type: ignore[attr-defined]
    return max(position, 1)


async def _run(args: argparse.Namespace) -> int:
    projections = list(all_projections())
    names = sorted(p.name for p in projections)
    if args.projection == "list":
        print("\n".join(names))
        return 0
    if args.projection != "all":
        projections = [p for p in projections if p.name == args.projection]
        if not projections:
            raise CliError(f"no projection {args.projection!r}; known: {', '.join(names)}")
    async with connect() as conns:
        until = await _until_position(args.until, conns)
        bar = ProgressBar("replay")
        try:
            result = await rebuild(
                conns.store, conns.redis, projections, conns.target.namespace,
                until=until, progress=bar, replace_all=args.projection == "all",
            )  # fmt: skip
        finally:
            bar.close()
    what = "switched live read models to" if result.swapped else "built point-in-time copy"
    print(
        f"{what} {result.version}: position {result.position}, "
        f"{result.events_per_second:,.0f} events/s, {result.seconds:.2f} s"
        + (" (resumed an interrupted replay)" if result.resumed else "")
    )
    return 0


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))
