"""`maratron verify`: recompute every stream's hash chain and compare the live read models with a
fresh replay. Prints each problem; exits 1 on any."""

from __future__ import annotations

import argparse
import asyncio
import secrets
import time

from maratron_projections import Keys
from maratron_projections.compare import OPERATIONAL, compare, drop
from maratron_projections.rebuild import build

from maratron_cli.operator import all_projections, connect
from maratron_cli.output import ProgressBar

IGNORED = (
    *OPERATIONAL,  # projector positions and sentinels differ by design from a replay's
    "insights:*:latest",  # derived documents, recomputed by the insights service from the series
    "insights:dirty",
    "insights:parked",  # operational: dead-lettered deliveries
)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "verify",
        help="check hash chains and read-model drift",
        description="Recompute the hash chain of every stream, replay the log into a scratch "
        "key space and compare it with the live read models. Exit code 1 on any problem.",
    )
    parser.add_argument("--stream", help="check only this stream's chain (skips the drift check)")
    parser.set_defaults(handler=run)


async def _run(args: argparse.Namespace) -> int:
    problems = 0
    async with connect() as conns:
        began = time.monotonic()
        violations = await conns.store.verify_chains(args.stream)
        for v in violations:
            problems += 1
            print(f"CHAIN  {v.stream_id} version {v.stream_version} position {v.global_position}: "
                  f"{v.reason}")  # fmt: skip
        chain_seconds = time.monotonic() - began
        print(f"hash chains: {len(violations)} problem(s) in {chain_seconds:.2f} s")
        if args.stream is None:
            scratch = Keys(conns.target.namespace, f"verify-{secrets.token_hex(4)}")
            bar = ProgressBar("verify replay")
            try:
                await build(conns.store, conns.redis, all_projections(), scratch, progress=bar)
                bar.close()
                drift = await compare(conns.redis, scratch, conns.keys, ignore=IGNORED)
            finally:
                await drop(conns.redis, scratch)
            for d in drift:
                problems += 1
                print(f"DRIFT  {d.key}: {d.problem}")
            print(f"read models: {len(drift)} difference(s) from a replay")
    print(f"verify: {'OK' if problems == 0 else f'{problems} problem(s)'} "
          f"in {time.monotonic() - began:.2f} s")  # fmt: skip
    return 0 if problems == 0 else 1


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))
