"""`maratron seed`: realistic synthetic history through the real command path.

Every athlete registers, adds a default shoe and logs near-daily runs by sending the same
commands the gateway sends (NATS request-reply to the running runs service), so seeded data
goes through validation, the event store, projections, the relay and insights like real use.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import time
from collections.abc import Sequence

import nats
from maratron_contracts.envelope import Actor
from maratron_contracts.errors import Conflict, MaratronError
from maratron_contracts.runs import AddShoe, LogRun, RegisterAthlete
from maratron_service.client import CommandClient

from maratron_cli.errors import CliError
from maratron_cli.operator import target
from maratron_cli.output import ProgressBar

WORKOUTS = ("easy", "easy", "easy", "recovery", "tempo", "interval", "long")
SCOPES = ("runs:read", "runs:write")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "seed",
        help="generate realistic synthetic history",
        description="Register athletes and log realistic runs through the real command path "
        "(the runs service must be running: `make run`).",
    )
    parser.add_argument("--athletes", type=int, default=3)
    parser.add_argument("--runs-per-athlete", type=int, default=60)
    parser.add_argument("--prefix", default="seed", help="athlete ids are <prefix>-<n>")
    parser.add_argument("--seed", type=int, default=42, help="random seed (repeatable data)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.set_defaults(handler=run)


def plan_runs(rng: random.Random, count: int, today: dt.date) -> list[LogRun]:
    """Near-daily runs ending yesterday: mostly easy, a weekly long run, some quality."""
    runs: list[LogRun] = []
    day = today - dt.timedelta(days=1)
    while len(runs) < count:
        if rng.random() < 0.15:  # a rest day now and then
            day -= dt.timedelta(days=1)
            continue
        kind = "long" if day.weekday() == 6 else rng.choice(WORKOUTS[:-1])
        km = {"long": rng.uniform(16, 30), "tempo": rng.uniform(8, 12),
              "interval": rng.uniform(6, 10), "recovery": rng.uniform(4, 7)}.get(
            kind, rng.uniform(6, 12))  # fmt: skip
        pace = {"tempo": 4.4, "interval": 4.2, "long": 5.6, "recovery": 6.2}.get(kind, 5.5)
        seconds = int(km * 60 * rng.uniform(pace - 0.3, pace + 0.3))
        runs.append(
            LogRun(
                date=day,
                distance=round(km, 2),
                duration=seconds,
                unit="km",
                start_time=dt.time(rng.choice((6, 7, 12, 18, 19)), rng.choice((0, 15, 30))),
                workout_type=kind,
                perceived_effort={"tempo": 7, "interval": 8, "long": 6}.get(kind, 4),
                avg_hr=int(rng.uniform(135, 170)),
                elevation_gain_m=int(rng.uniform(0, 250)),
            )
        )
        day -= dt.timedelta(days=1)
    return runs[::-1]


async def _seed_one(
    client: CommandClient, athlete_id: str, runs: Sequence[LogRun], tick: asyncio.Queue[int]
) -> None:
    actor = Actor(subject=athlete_id, scopes=SCOPES, client_id="maratron-seed",
                  auth_method="system")  # fmt: skip
    try:
        await client.send("runs", RegisterAthlete(display_name=f"Runner {athlete_id}",
                          email=f"{athlete_id}@example.com", max_hr=190, resting_hr=50),
                          athlete_id, actor)  # fmt: skip
        await client.send(
            "runs", AddShoe(shoe_name="Daily trainer", default=True), athlete_id, actor
        )
    except Conflict:
        pass  # seeded before: add more runs
    for run in runs:
        await client.send("runs", run, athlete_id, actor, deadline_s=30)
        tick.put_nowait(1)


async def _run(args: argparse.Namespace) -> int:
    if args.athletes < 1 or args.runs_per_athlete < 0:
        raise CliError("--athletes must be >= 1 and --runs-per-athlete >= 0")
    where = target()
    try:
        nc = await nats.connect(where.nats_url, connect_timeout=3, max_reconnect_attempts=1)
    except Exception as exc:
        raise CliError(f"cannot reach NATS at NATS_URL ({where.nats_url}): {exc}") from None
    client = CommandClient(nc, where.namespace, "seed")
    rng = random.Random(args.seed)
    today = dt.date.today()
    plans = {f"{args.prefix}-{i + 1}": plan_runs(rng, args.runs_per_athlete, today)
             for i in range(args.athletes)}  # fmt: skip
    total = args.athletes * args.runs_per_athlete
    tick: asyncio.Queue[int] = asyncio.Queue()
    bar = ProgressBar("seed")
    began = time.monotonic()
    gate = asyncio.Semaphore(max(1, args.concurrency))

    async def guarded(athlete_id: str) -> None:
        async with gate:
            await _seed_one(client, athlete_id, plans[athlete_id], tick)

    async def report() -> None:
        done = 0
        while done < total:
            done += await tick.get()
            bar(done, total, time.monotonic() - began)

    reporter = asyncio.create_task(report())
    try:
        await asyncio.gather(*(guarded(a) for a in plans))
    except MaratronError as exc:
        raise CliError(f"seeding stopped: {exc.message}") from None
    finally:
        reporter.cancel()
        bar.close()
        await nc.drain()
    seconds = time.monotonic() - began
    rate = total / seconds if seconds else 0.0
    print(
        f"seeded {args.athletes} athletes and {total} runs in {seconds:.1f} s ({rate:,.0f} runs/s):"
        f" ids {args.prefix}-1..{args.athletes}"
    )
    return 0


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))
