"""Cluster-wide rate limits, with their state in Redis.

Every gateway replica runs the same Lua script against the same Redis, so a limit of N calls per
window admits N calls in total across all replicas (not N per replica). The script is one atomic
round trip that both checks the limit and, when the call is admitted, counts it in the usage
counters that feed `usage_report` and the metrics.

Algorithm: a sliding-window log (a sorted set of admission times per principal and tier). It is
exact - no burst of 2N at a window boundary, unlike fixed windows - and its memory is bounded by
N entries per principal and tier. Time comes from the Redis server (`TIME`), so replicas with
skewed clocks still agree.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from enum import StrEnum

import redis.asyncio as aioredis


class Tier(StrEnum):
    """Tools are limited by tier: writes are dearer than reads, search dearer than both."""

    WRITE = "write"
    READ = "read"
    SEARCH = "search"


@dataclass(frozen=True)
class Limit:
    calls: int
    window_seconds: float


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after_seconds: float
    """0 when allowed; otherwise how long until the oldest admission leaves the window."""


DEFAULT_LIMITS: dict[Tier, Limit] = {
    Tier.WRITE: Limit(calls=120, window_seconds=60),
    Tier.READ: Limit(calls=600, window_seconds=60),
    Tier.SEARCH: Limit(calls=120, window_seconds=60),
}

# KEYS[1] window zset, KEYS[2] usage hash, KEYS[3] rejections hash
# ARGV: limit, window_ms, member, tool, usage_ttl_s
_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
if used < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  redis.call('HINCRBY', KEYS[2], ARGV[4], 1)
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[5]))
  return {1, limit - used - 1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local retry = window
if oldest[2] then retry = tonumber(oldest[2]) + window - now end
redis.call('HINCRBY', KEYS[3], ARGV[4], 1)
redis.call('EXPIRE', KEYS[3], tonumber(ARGV[5]))
return {0, 0, retry}
"""


class RateLimiter:
    """Checks and records calls; one Redis round trip per check."""

    def __init__(
        self,
        redis: aioredis.Redis,
        namespace: str,
        limits: dict[Tier, Limit] | None = None,
        usage_ttl_seconds: int = 35 * 24 * 3600,
    ) -> None:
        self._redis = redis
        self._prefix = f"{namespace}:rl:"
        self._limits = {**DEFAULT_LIMITS, **(limits or {})}
        self._usage_ttl = usage_ttl_seconds
        self._script = redis.register_script(_SCRIPT)

    def limit_for(self, tier: Tier) -> Limit:
        return self._limits[tier]

    def usage_key(self, principal: str) -> str:
        return f"{self._prefix}usage:{principal}"

    def rejections_key(self, principal: str) -> str:
        return f"{self._prefix}rejected:{principal}"

    async def check(self, principal: str, tier: Tier, tool: str) -> Decision:
        limit = self._limits[tier]
        window_key = f"{self._prefix}win:{tier.value}:{principal}"
        member = secrets.token_hex(8)
        allowed, remaining, retry_ms = await self._script(
            keys=[window_key, self.usage_key(principal), self.rejections_key(principal)],
            args=[limit.calls, int(limit.window_seconds * 1000), member, tool, self._usage_ttl],
        )
        return Decision(
            allowed=bool(allowed),
            limit=limit.calls,
            remaining=int(remaining),
            retry_after_seconds=max(0.0, int(retry_ms) / 1000),
        )

    async def usage(self, principal: str) -> tuple[dict[str, int], dict[str, int]]:
        """Calls admitted and calls rejected per tool for one principal."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.hgetall(self.usage_key(principal))
        pipe.hgetall(self.rejections_key(principal))
        admitted, rejected = await pipe.execute()
        return _ints(admitted), _ints(rejected)


def _ints(raw: dict[bytes | str, bytes | str]) -> dict[str, int]:
    return {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in raw.items()}
