"""`maratron audit athlete <id>` / `maratron audit stream <id>`: who did what, when, through which
client and gateway replica; `--as-of TIME` shows the athlete's data as it was then."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import datetime
from typing import Any

from maratron_contracts.envelope import RecordedEvent
from maratron_contracts.errors import MaratronError
from maratron_insights.queries import InsightsQueries
from maratron_projections.rebuild import point_in_time_keys
from maratron_runs.queries import RunsQueries

from maratron_cli.errors import CliError
from maratron_cli.operator import Connections, all_projections, connect
from maratron_cli.output import FORMATS, render

COLUMNS = (
    "time", "position", "stream", "version", "type", "actor", "client", "replica",
    "correlation_id", "summary",
)  # fmt: skip
SUMMARY_FIELDS = 4


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "audit",
        help="show the history of an athlete or a stream",
        description="The full history from the event store: time, event type, actor, client, "
        "gateway replica, correlation id and a readable summary. Denied calls (bad tokens, "
        "forbidden, rate-limited) are included for an athlete.",
    )
    parser.add_argument("kind", choices=("athlete", "stream"), help="what to audit")
    parser.add_argument("id", help="athlete id (token subject) or stream id (e.g. run:<id>)")
    parser.add_argument("--since", type=_moment, help="ISO time with zone: from")
    parser.add_argument("--until", type=_moment, help="ISO time with zone: up to")
    parser.add_argument("--type", action="append", dest="types", help="event type (repeatable)")
    parser.add_argument("--limit", type=int, default=10_000, help="most events shown")
    parser.add_argument("--format", choices=FORMATS, default="table")
    parser.add_argument(
        "--as-of", type=_moment, help="show the athlete's profile, runs, shoes and insights then"
    )
    parser.set_defaults(handler=run)


def _moment(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r}: give an ISO time, e.g. 2026-11-01T08:00+00:00"
        ) from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{value!r}: add a time zone, e.g. {value}+00:00")
    return moment


def summary(event: RecordedEvent) -> str:
    """`field=value` pairs of the event's data, short: enough to recognise the change."""
    parts = []
    for key, value in event.data.items():
        if value is None or value == [] or value == {}:
            continue
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        parts.append(f"{key}={text[:40]}")
        if len(parts) == SUMMARY_FIELDS:
            break
    return " ".join(parts)


def row(event: RecordedEvent) -> dict[str, Any]:
    meta = event.metadata
    actor = meta.actor
    return {
        "time": event.recorded_at.isoformat(timespec="milliseconds"),
        "position": event.global_position,
        "stream": event.stream_id,
        "version": event.stream_version,
        "type": event.event_type,
        "actor": actor.subject if actor else None,
        "client": actor.client_id if actor else None,
        "replica": meta.gateway_replica,
        "correlation_id": str(meta.correlation_id) if meta.correlation_id else None,
        "summary": summary(event),
    }


async def _as_of(conns: Connections, athlete_id: str, moment: datetime) -> dict[str, Any]:
    position = await conns.store.position_at(moment)
    keys = await point_in_time_keys(
        conns.store, conns.redis, all_projections(), conns.target.namespace, position
    )
    runs = RunsQueries(conns.redis, keys)
    view: dict[str, Any] = {"as_of": moment.isoformat(), "position": position}
    profile = await runs.find_profile(athlete_id)
    view["profile"] = profile.model_dump(mode="json") if profile else None
    page = await runs.list_runs(athlete_id, limit=100)
    view["runs"] = [r.model_dump(mode="json") for r in page.runs]
    view["shoes"] = [
        s.model_dump(mode="json") for s in await runs.list_shoes(athlete_id, include_retired=True)
    ]
    insights = InsightsQueries(conns.redis, keys, runs=runs, clock=lambda: moment)
    try:
        view["insights"] = (await insights.latest(athlete_id)).model_dump(mode="json")
    except MaratronError as exc:
        view["insights"] = {"not_available": exc.message}
    return view


async def _run(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise CliError("--limit must be at least 1")
    async with connect() as conns:
        if args.as_of is not None:
            if args.kind != "athlete":
                raise CliError("--as-of shows an athlete's data: use `maratron audit athlete <id>`")
            print(json.dumps(await _as_of(conns, args.id, args.as_of), indent=2, default=str))
            return 0
        filters: dict[str, Any] = {
            "since": args.since, "until": args.until, "event_types": args.types,
            "limit": args.limit,
        }  # fmt: skip
        if args.kind == "athlete":
            events = await conns.store.history(athlete_id=args.id, **filters)
        else:
            events = await conns.store.history(stream_id=args.id, **filters)
    if not events and args.format == "table":
        print(f"no events for {args.kind} {args.id!r} with these filters")
        return 0
    print(render([row(e) for e in events], COLUMNS, args.format))
    return 0


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))
