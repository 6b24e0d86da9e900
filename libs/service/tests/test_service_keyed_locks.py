"""KeyedLocks: per-key mutual exclusion without leaking locks (pure asyncio)."""

from __future__ import annotations

import asyncio

from maratron_service.commands import KeyedLocks


async def test_one_holder_per_key_and_no_leak() -> None:
    locks = KeyedLocks()
    inside: dict[str, int] = {"a": 0, "b": 0}
    peak: dict[str, int] = {"a": 0, "b": 0}

    async def work(key: str) -> None:
        async with locks.hold(key):
            inside[key] += 1
            peak[key] = max(peak[key], inside[key])
            await asyncio.sleep(0)
            inside[key] -= 1

    await asyncio.gather(*(work("a" if i % 2 else "b") for i in range(20)))
    assert peak == {"a": 1, "b": 1}
    assert locks._locks == {}


async def test_none_means_no_lock() -> None:
    locks = KeyedLocks()
    async with locks.hold(None), locks.hold(None):
        assert locks._locks == {}
