"""The limit holds across replicas: several limiters (one per replica) share one Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from maratron_gateway.ratelimit import Limit, RateLimiter, Tier
from maratron_testing.plugin import StackUrls


@pytest.fixture
async def redis_client(maratron_stack: StackUrls) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(maratron_stack.redis_url)
    yield client
    await client.aclose()


async def test_limit_is_shared_by_all_replicas(
    redis_client: aioredis.Redis, namespace: str
) -> None:
    limits = {Tier.WRITE: Limit(calls=25, window_seconds=60)}
    replicas = [RateLimiter(redis_client, namespace, limits) for _ in range(3)]
    decisions = await asyncio.gather(
        *(replicas[i % 3].check("athlete-a", Tier.WRITE, "log_run") for i in range(60))
    )
    assert sum(d.allowed for d in decisions) == 25
    rejected = [d for d in decisions if not d.allowed]
    assert all(0 < d.retry_after_seconds <= 60 for d in rejected)
    admitted, refused = await replicas[0].usage("athlete-a")
    assert admitted == {"log_run": 25}
    assert refused == {"log_run": 35}


async def test_principals_and_tiers_are_limited_separately(
    redis_client: aioredis.Redis, namespace: str
) -> None:
    limiter = RateLimiter(redis_client, namespace, {t: Limit(2, 60) for t in Tier})
    for _ in range(2):
        assert (await limiter.check("a", Tier.WRITE, "log_run")).allowed
    assert not (await limiter.check("a", Tier.WRITE, "log_run")).allowed
    assert (await limiter.check("a", Tier.READ, "list_runs")).allowed
    assert (await limiter.check("b", Tier.WRITE, "log_run")).allowed


async def test_window_slides(redis_client: aioredis.Redis, namespace: str) -> None:
    limiter = RateLimiter(redis_client, namespace, {Tier.READ: Limit(1, 0.2)})
    assert (await limiter.check("a", Tier.READ, "get_run")).allowed
    refused = await limiter.check("a", Tier.READ, "get_run")
    assert not refused.allowed
    await asyncio.sleep(refused.retry_after_seconds + 0.01)  # the window itself is the condition
    assert (await limiter.check("a", Tier.READ, "get_run")).allowed
