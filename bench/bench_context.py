"""Context benchmark: session and message commands, and fuzzy memory search over 1,000 and
10,000 items, measured over MCP HTTP (the user-visible latency) and, for reference, at the
service (NATS command round trip) and in-process search levels.

    uv run python bench/bench_context.py   # NATS_URL / DATABASE_URL / REDIS_URL, else 127.0.0.1

Starts the context service and one gateway as real processes (tests/e2e/cluster.py) on a fresh
namespace, removed afterwards.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
from fastmcp import Client
from maratron_context.projections import corpus_key
from maratron_context.queries import ContextQueries
from maratron_contracts.context import (
    SERVICE,
    ExchangeRecorded,
    MemoryRemembered,
    RecordExchange,
    SearchMemoryQuery,
    StartSession,
    Visibility,
    memory_stream,
    session_stream,
)
from maratron_contracts.envelope import Actor, EventMetadata, NewEvent
from maratron_contracts.messages import Event
from maratron_contracts.registry import load_all
from maratron_eventstore import EventStore
from maratron_projections import Keys
from maratron_service.client import CommandClient
from maratron_service.testing import drop_namespace
from maratron_testing.plugin import StackUrls
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.e2e.cluster import NO_RATE_LIMITS, Cluster

SAMPLES = 200
CORPORA = (1_000, 10_000)
LOAD_CONCURRENCY = 16
KINDS = ("note", "goal", "injury", "preference", "race")
WORDS = (
    "easy",
    "run",
    "tempo",
    "intervals",
    "hills",
    "long",
    "marathon",
    "half",
    "berlin",
    "boston",
    "chicago",
    "pace",
    "heart",
    "rate",
    "zone",
    "knee",
    "achilles",
    "tendon",
    "calf",
    "hamstring",
    "plantar",
    "shin",
    "splints",
    "recovery",
    "sleep",
    "nutrition",
    "carbs",
    "gels",
    "taper",
    "mileage",
    "weekly",
    "threshold",
    "vo2max",
    "strides",
    "fartlek",
    "track",
    "trail",
    "shoes",
    "pegasus",
    "vaporfly",
    "cushion",
    "stiff",
    "sore",
    "tired",
    "strong",
    "fast",
    "slow",
    "morning",
    "evening",
    "coach",
    "plan",
    "goal",
    "sub",
    "three",
    "hours",
    "race",
    "day",
    "weather",
    "heat",
    "humidity",
    "rain",
    "wind",
    "hydration",
    "electrolytes",
    "stretching",
    "foam",
    "roller",
    "strength",
    "core",
    "glutes",
    "cadence",
    "form",
    "posture",
    "breathing",
)
QUERIES = (
    "achiles tendon",
    "marathn berlin pace",
    "plantar sore",
    "tempo hills morning",
    "recovery sleep nutrtion",
    "vaporfly shoes race",
)


def _rows(name: str, samples: list[float]) -> list[dict[str, Any]]:
    ms = sorted(s * 1000 for s in samples)
    p99 = ms[min(len(ms) - 1, int(0.99 * len(ms)))]
    rows = [
        {
            "benchmark": f"{name} (p50)",
            "value": round(statistics.median(ms), 3),
            "unit": "ms",
            "n": len(ms),
        },
        {"benchmark": f"{name} (p99)", "value": round(p99, 3), "unit": "ms", "n": len(ms)},
    ]
    for row in rows:
        _progress(row)
    return rows


def _progress(row: dict[str, Any]) -> None:
    print(f"  {row['benchmark']}: {row['value']} {row['unit']}", file=sys.stderr, flush=True)


async def _timed(fn: Callable[[], Awaitable[Any]], n: int = SAMPLES) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        await fn()
        out.append(time.perf_counter() - started)
    return out


def _sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 24)))


async def _populate(
    client: CommandClient,
    store: EventStore,
    redis: Redis,
    keys: Keys,
    athlete: str,
    n: int,
    rng: random.Random,
) -> None:
    """`n` searchable items (70% memory items, 30% exchanges over 20 sessions), appended to
    the event store in batches (the command path is measured above; this is only the data),
    then projected by the running service: returns once the search corpus holds them all."""
    actor = Actor(subject=athlete, client_id="bench")
    sessions = [
        str((await client.send(SERVICE, StartSession(), athlete, actor)).data["session_id"])
        for _ in range(20)
    ]
    now = datetime.now(UTC)
    meta = EventMetadata(actor=actor)
    per_session: dict[str, list[NewEvent]] = {sid: [] for sid in sessions}
    memories: list[tuple[str, NewEvent]] = []
    for i in range(n):
        if i % 10 < 7:
            memory_id = f"m_{secrets.token_hex(8)}"
            ev: Event = MemoryRemembered(
                memory_id=memory_id,
                kind=rng.choice(KINDS),
                text=_sentence(rng),
                agent="bench",
                visibility=Visibility.SHARED,
                at=now,
            )
            memories.append((memory_stream(memory_id), _new(ev)))
        else:
            sid = sessions[i % len(sessions)]
            ev = ExchangeRecorded(
                session_id=sid,
                exchange_id=f"x_{secrets.token_hex(8)}",
                agent="bench",
                visibility=Visibility.SHARED,
                user_message=_sentence(rng),
                ai_response=_sentence(rng),
                at=now,
                idle_timeout_seconds=3600.0,
            )
            per_session[sid].append(_new(ev))
    sem = asyncio.Semaphore(LOAD_CONCURRENCY)

    async def append(stream: str, events: list[NewEvent]) -> None:
        async with sem:
            for start in range(0, len(events), 250):
                await store.append(
                    stream,
                    athlete,
                    events[start : start + 250],
                    expected_version=None,
                    metadata=meta,
                )

    await asyncio.gather(
        *(append(session_stream(sid), evs) for sid, evs in per_session.items() if evs),
        *(append(stream, [ev]) for stream, ev in memories),
    )
    deadline = time.monotonic() + 1800
    while await redis.llen(corpus_key(keys, athlete)) < n:  # type: ignore[misc]
        if time.monotonic() > deadline:
            raise TimeoutError(f"the service did not project {n} items in time")
        await asyncio.sleep(0.2)


def _new(event: Event) -> NewEvent:
    return NewEvent(
        event_type=type(event).event_type,
        schema_version=type(event).schema_version,
        data=event.model_dump(mode="json"),
    )


async def main(nats_url: str, database_url: str, redis_url: str) -> list[dict[str, Any]]:
    namespace = f"bench{secrets.token_hex(4)}"
    rows: list[dict[str, Any]] = []
    rng = random.Random(7)
    picks = itertools.cycle(QUERIES)
    with tempfile.TemporaryDirectory(prefix="maratron-bench-context-") as folder:
        cluster = Cluster(
            nats_url=nats_url,
            database_url=database_url,
            redis_url=redis_url,
            namespace=namespace,
            folder=Path(folder),
            extra_env=NO_RATE_LIMITS,
        )
        nc = await nats.connect(nats_url)
        redis = Redis.from_url(redis_url)
        store: EventStore | None = None
        try:
            cluster.start(services=("context",), gateways=1)
            store = await EventStore.connect(database_url, namespace=namespace, registry=load_all())
            commands = CommandClient(nc, namespace, "bench", deadline_s=30.0)
            athlete = f"ath-{secrets.token_hex(4)}"
            actor = Actor(subject=athlete, client_id="bench")

            # -- service level: NATS command round trip (load, decide, append, project) -------
            sid = str(
                (await commands.send(SERVICE, StartSession(), athlete, actor)).data["session_id"]
            )
            rows += _rows(
                "service start_session",
                await _timed(lambda: commands.send(SERVICE, StartSession(), athlete, actor)),
            )
            exchange = RecordExchange(
                session_id=sid,
                user_message="How did my tempo go?",
                ai_response="Right on 4:10/km: well judged.",
            )
            rows += _rows(
                "service record_exchange",
                await _timed(lambda: commands.send(SERVICE, exchange, athlete, actor)),
            )

            # -- over MCP HTTP -----------------------------------------------------------------
            url = cluster.gateway_urls[0]
            async with Client(
                url, auth=cluster.token(athlete, client_id="bench"), timeout=60
            ) as mcp:
                rows += _rows(
                    "http ping (the MCP HTTP floor)",
                    await _timed(lambda: mcp.call_tool("ping", {})),
                )
                rows += _rows(
                    "http start_session",
                    await _timed(lambda: mcp.call_tool("start_session", {"title": "bench"})),
                )
                rows += _rows(
                    "http record_exchange",
                    await _timed(
                        lambda: mcp.call_tool(
                            "record_exchange",
                            {
                                "session_id": sid,
                                "user_message": "How did my tempo go?",
                                "ai_response": "Right on 4:10/km: well judged.",
                            },
                        )
                    ),
                )
                rows += _rows(
                    "http get_session",
                    await _timed(lambda: mcp.call_tool("get_session", {"session_id": sid})),
                )

            # -- search over 1,000 and 10,000 items ---------------------------------------------
            queries = ContextQueries(redis, Keys(namespace))
            for n in CORPORA:
                owner = f"ath-search{n}-{secrets.token_hex(3)}"
                started = time.perf_counter()
                await _populate(commands, store, redis, Keys(namespace), owner, n, rng)
                rows.append(
                    {
                        "benchmark": f"load {n} items (append + projection)",
                        "value": round(n / (time.perf_counter() - started)),
                        "unit": "items/s",
                        "n": n,
                    }
                )
                _progress(rows[-1])
                await queries.search(owner, SearchMemoryQuery(query="warm"), agent="bench")
                rows += _rows(
                    f"in-process search over {n}",
                    await _timed(
                        lambda owner=owner: queries.search(  # type: ignore[misc]
                            owner, SearchMemoryQuery(query=next(picks)), agent="bench"
                        )
                    ),
                )
                async with Client(
                    url, auth=cluster.token(owner, client_id="bench"), timeout=60
                ) as mcp:
                    await mcp.call_tool("search_memory", {"query": "warm up the cache"})
                    rows += _rows(
                        f"http search_memory over {n}",
                        await _timed(
                            lambda mcp=mcp: mcp.call_tool(  # type: ignore[misc]
                                "search_memory", {"query": next(picks), "limit": 10}
                            )
                        ),
                    )
        finally:
            if store is not None:
                await store.close()
            cluster.stop()
            await nc.drain()
            await redis.aclose()
            await drop_namespace(StackUrls(nats_url, database_url, redis_url, namespace), namespace)  # type: ignore[arg-type]
    return rows


if __name__ == "__main__":
    results = asyncio.run(
        main(
            os.environ.get("NATS_URL", "nats://127.0.0.1:4222"),
            os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
            os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        )
    )
    for row in results:
        print(f"{row['benchmark']:<40} {row['value']:>10} {row['unit']:<6} n={row['n']}")
