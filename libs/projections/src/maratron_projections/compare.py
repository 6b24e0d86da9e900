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


_BATCH = 1000


def _text(raw: Any) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


async def _values(redis: Redis, keys: Sequence[bytes]) -> list[tuple[str, Any]]:
    """(type, comparable value) of each key, in two pipelined round trips per batch (a verify
    of a large key space would otherwise spend its time in per-key round trips)."""
    out: list[tuple[str, Any]] = []
    for i in range(0, len(keys), _BATCH):
        batch = keys[i : i + _BATCH]
        pipe = redis.pipeline(transaction=False)
        for key in batch:
            pipe.type(key)
        kinds = [_text(k) for k in await pipe.execute()]
        pipe = redis.pipeline(transaction=False)
        for key, kind in zip(batch, kinds, strict=True):
            if kind == "string":
                pipe.get(key)
            elif kind == "hash":
                pipe.hgetall(key)
            elif kind == "set":
                pipe.smembers(key)
            elif kind == "zset":
                pipe.zrange(key, 0, -1, withscores=True)
            elif kind == "list":
                pipe.lrange(key, 0, -1)
            else:
                pipe.exists(key)
        for kind, value in zip(kinds, await pipe.execute(), strict=True):
            if kind == "set":
                value = sorted(value)
            elif kind not in ("string", "hash", "zset", "list"):
                value = None
            out.append((kind, value))
    return out


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
    common = sorted(want & have)
    for i in range(0, len(common), _BATCH):  # batch by batch: never both spaces in memory
        batch = common[i : i + _BATCH]
        expected_values = await _values(redis, [(expected.prefix + k).encode() for k in batch])
        actual_values = await _values(redis, [(actual.prefix + k).encode() for k in batch])
        for key, expected_value, actual_value in zip(
            batch, expected_values, actual_values, strict=True
        ):
            if expected_value != actual_value:
                drift.append(
                    Drift(key, f"differs: live {actual_value!r} != replay {expected_value!r}")
                )
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
