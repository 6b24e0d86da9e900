"""Compare two read-model key spaces (live vs a scratch replay): drift must be zero."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from maratron_projections.keys import Keys


@dataclass(frozen=True)
class Drift:
    key: str
    """Key relative to its key space, e.g. `runs:a1:recent`."""
    problem: str


async def _value(redis: Redis, key: bytes) -> tuple[str, Any]:
    raw_kind = await redis.type(key)
    kind = raw_kind.decode() if isinstance(raw_kind, bytes) else str(raw_kind)
    if kind == "string":
        return kind, await redis.get(key)
    if kind == "hash":
        return kind, await redis.hgetall(key)
    if kind == "set":
        return kind, sorted(await redis.smembers(key))
    if kind == "zset":
        return kind, await redis.zrange(key, 0, -1, withscores=True)
    if kind == "list":
        return kind, await redis.lrange(key, 0, -1)
    return kind, None


async def _relative_keys(redis: Redis, keys: Keys, ignore: Sequence[str]) -> set[str]:
    found: set[str] = set()
    async for raw in redis.scan_iter(match=f"{keys.prefix}*", count=5000):
        relative = raw.decode()[len(keys.prefix) :]
        if not any(fnmatch.fnmatchcase(relative, pattern) for pattern in ignore):
            found.add(relative)
    return found


OPERATIONAL = ("checkpoint:*", "running:*")
"""Keys of the projectors themselves (positions, flush sentinels), not read models: a live
projector and a replay legitimately differ there."""


async def compare(
    redis: Redis, expected: Keys, actual: Keys, *, ignore: Sequence[str] = OPERATIONAL
) -> list[Drift]:
    """Every difference between `actual` (live) and `expected` (a fresh replay)."""
    want = await _relative_keys(redis, expected, ignore)
    have = await _relative_keys(redis, actual, ignore)
    drift = [Drift(k, "missing from the live read models") for k in sorted(want - have)]
    drift += [Drift(k, "in the live read models but not in a replay") for k in sorted(have - want)]
    for key in sorted(want & have):
        expected_value = await _value(redis, (expected.prefix + key).encode())
        actual_value = await _value(redis, (actual.prefix + key).encode())
        if expected_value != actual_value:
            drift.append(Drift(key, f"differs: live {actual_value!r} != replay {expected_value!r}"))
    return drift


async def drop(redis: Redis, keys: Keys) -> None:
    """Delete a whole key space (a scratch replay)."""
    batch: list[bytes] = []
    async for raw in redis.scan_iter(match=f"{keys.prefix}*", count=5000):
        batch.append(raw)
        if len(batch) >= 1000:
            await redis.delete(*batch)
            batch.clear()
    if batch:
        await redis.delete(*batch)
