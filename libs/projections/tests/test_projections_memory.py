"""MemoryPipeline against a real Redis: the same command sequences give the same replies, and the
key space the write-behind flush leaves in Redis equals the one the real commands left.

Each scenario is run by a real redis-py pipeline on one key space and by a `MemoryRedis` pipeline
on another; flushing after every step exercises the delta writes (changed hash fields, zset and
set members, list appends), evicting after every flush and starting from existing data exercise
the read-through path."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from maratron_projections import Keys
from maratron_projections.compare import compare
from maratron_projections.memory import MemoryRedis, transaction
from maratron_projections.projector import SET_MAX_SCRIPT
from redis.asyncio import Redis
from redis.exceptions import DataError, RedisError, ResponseError

from .conftest import World

K = Callable[[str], str]
Step = Callable[[Any, K], Awaitable[Any]]


async def _immediate_strings(pipe: Any, k: K) -> Any:
    await pipe.watch(k("s"))
    return [
        await pipe.get(k("s")),
        await pipe.set(k("s"), "hello"),
        await pipe.get(k("s")),
        await pipe.set(k("n"), 41),
        await pipe.incr(k("n")),
        await pipe.incrby(k("n"), -50),
        await pipe.get(k("n")),
        await pipe.exists(k("s"), k("n"), k("missing"), k("s")),
    ]


async def _queued_strings(pipe: Any, k: K) -> Any:
    await pipe.watch(k("n"))
    before = await pipe.get(k("n"))
    pipe.multi()
    queued = pipe.set(k("f"), 1.5)
    pipe.set(k("b"), b"\x00\xffbytes").incr(k("counter")).incrby(k("counter"), 9)
    pipe.delete(k("s"), k("nothing"))
    pipe.get(k("f"))
    pipe.get(k("b"))
    return [before, queued is pipe, len(pipe), await pipe.execute(), pipe.watching]


async def _hashes(pipe: Any, k: K) -> Any:
    await pipe.watch(k("h"))
    first = [await pipe.hget(k("h"), "a"), await pipe.hgetall(k("h"))]
    pipe.multi()
    pipe.hset(k("h"), "a", "1")
    pipe.hset(k("h"), mapping={"a": "2", "b": 3, "c": 0.25, b"d\xff": b"v"})
    pipe.hset(k("h"), items=["e", "x", "e", "y"])
    pipe.hincrby(k("h"), "a", 5)
    pipe.hincrby(k("h"), "new", -7)
    pipe.hincrby(k("h"), "new")
    pipe.hdel(k("h"), "b", "missing")
    pipe.hget(k("h"), "a")
    pipe.hget(k("h"), "new")
    pipe.hgetall(k("h"))
    pipe.hlen(k("h"))
    pipe.hmget(k("h"), ["a", "zz", "e"])
    pipe.hexists(k("h"), "c")
    pipe.hset(k("gone"), "only", "x")
    pipe.hdel(k("gone"), "only")
    pipe.exists(k("gone"))
    return [first, await pipe.execute()]


async def _hash_counters_after_flush(pipe: Any, k: K) -> Any:
    await pipe.watch(k("h"))
    pipe.multi()
    pipe.hincrby(k("h"), "new", 100)
    pipe.hincrby(k("h"), "a", -1)
    pipe.hdel(k("h"), "c")
    pipe.hset(k("h"), "z", "late")
    return await pipe.execute()


async def _sorted_sets(pipe: Any, k: K) -> Any:
    await pipe.watch(k("z"))
    empty = [await pipe.zrange(k("z"), 0, -1), await pipe.zscore(k("z"), "a")]
    pipe.multi()
    pipe.zadd(k("z"), {"a": 1, "b": 2.5, "c": 0, "d": 0.1, "e": -3})
    pipe.zadd(k("z"), {"a": 1, "b": 7})
    pipe.zadd(k("z"), {"f": float("inf"), "g": 12_345_678_901})
    pipe.zrem(k("z"), "c", "nope")
    pipe.zrange(k("z"), 0, -1)
    pipe.zrange(k("z"), 1, -2, withscores=True)
    pipe.zrange(k("z"), -100, 100, withscores=True)
    pipe.zscore(k("z"), "d")
    pipe.zcard(k("z"))
    pipe.zadd(k("lex"), {"b|2": 0, "a|1": 0, "a|10": 0, "A": 0})
    pipe.zrange(k("lex"), 0, -1)
    pipe.zadd(k("zgone"), {"x": 1})
    pipe.zrem(k("zgone"), "x")
    pipe.exists(k("zgone"))
    return [empty, await pipe.execute()]


async def _sorted_sets_again(pipe: Any, k: K) -> Any:
    await pipe.watch(k("z"))
    pipe.multi()
    pipe.zadd(k("z"), {"a": 9, "h": 1})
    pipe.zrem(k("z"), "e")
    pipe.zrange(k("z"), 0, -1, withscores=True)
    return await pipe.execute()


async def _sets(pipe: Any, k: K) -> Any:
    await pipe.watch(k("set"))
    pipe.multi()
    pipe.sadd(k("set"), "a", "b", "a", 3)
    pipe.sadd(k("set"), "b")
    pipe.srem(k("set"), "a", "zz")
    pipe.smembers(k("set"))
    pipe.sismember(k("set"), "b")
    pipe.sismember(k("set"), "a")
    pipe.scard(k("set"))
    pipe.sadd(k("sgone"), "x")
    pipe.srem(k("sgone"), "x")
    pipe.exists(k("sgone"))
    pipe.smembers(k("sgone"))
    return await pipe.execute()


async def _lists(pipe: Any, k: K) -> Any:
    await pipe.watch(k("l"))
    pipe.multi()
    pipe.rpush(k("l"), "a", "b")
    pipe.rpush(k("l"), "c")
    pipe.lpush(k("front"), "1", "2", "3")
    pipe.ltrim(k("front"), 0, 1)
    pipe.lrange(k("front"), 0, -1)
    pipe.rpush(k("t"), *"abcdefg")
    pipe.ltrim(k("t"), -4, -2)
    pipe.lrange(k("t"), 0, 100)
    pipe.lrange(k("t"), -2, -1)
    pipe.llen(k("t"))
    pipe.rpush(k("gone"), "x")
    pipe.ltrim(k("gone"), 5, 10)
    pipe.exists(k("gone"))
    pipe.ltrim(k("missing"), 0, 1)
    return await pipe.execute()


async def _list_appends_after_flush(pipe: Any, k: K) -> Any:
    await pipe.watch(k("l"))
    pipe.multi()
    pipe.rpush(k("l"), "d", "e")
    pipe.rpush(k("l"), "f")
    pipe.lpush(k("t"), "z")
    pipe.lrange(k("l"), 0, -1)
    return await pipe.execute()


async def _set_max(pipe: Any, k: K) -> Any:
    await pipe.watch(k("cp"))
    pipe.multi()
    pipe.eval(SET_MAX_SCRIPT, 1, k("cp"), 10)
    pipe.eval(SET_MAX_SCRIPT, 1, k("cp"), 7)
    pipe.eval(SET_MAX_SCRIPT, 1, k("cp"), 12)
    pipe.get(k("cp"))
    return await pipe.execute()


async def _errors_in_exec(pipe: Any, k: K) -> Any:
    """A failing command inside MULTI does not stop the others (EXEC semantics)."""
    await pipe.watch(k("h"))
    pipe.multi()
    pipe.set(k("str"), "text")
    pipe.hset(k("str"), "f", "v")  # WRONGTYPE
    pipe.incr(k("str"))  # not an integer
    pipe.hincrby(k("h"), "z", 1)  # hash value is not an integer
    pipe.get(k("h"))  # WRONGTYPE
    pipe.set(k("after"), "still applied")
    return await pipe.execute(raise_on_error=False)


async def _error_raised_by_execute(pipe: Any, k: K) -> Any:
    await pipe.watch(k("h"))
    pipe.multi()
    pipe.set(k("applied-anyway"), "1")
    pipe.incr(k("h"))
    return await pipe.execute()


async def _immediate_error(pipe: Any, k: K) -> Any:
    await pipe.watch(k("h"))
    return await pipe.get(k("h"))


async def _transaction_misuse(pipe: Any, k: K) -> Any:
    pipe.set(k("early"), "queued without watch")
    pipe.multi()  # RedisError: commands were already issued


async def _nested_multi(pipe: Any, k: K) -> Any:
    await pipe.watch(k("x"))
    pipe.multi()
    pipe.multi()


async def _watch_after_multi(pipe: Any, k: K) -> Any:
    await pipe.watch(k("x"))
    pipe.multi()
    await pipe.watch(k("x"))


async def _empty_execute(pipe: Any, k: K) -> Any:
    await pipe.watch(k("x"))
    pipe.multi()
    return [await pipe.execute(), await pipe.execute()]


async def _reset_discards(pipe: Any, k: K) -> Any:
    await pipe.watch(k("x"))
    pipe.multi()
    pipe.set(k("discarded"), "1")
    await pipe.reset()
    return [pipe.watching, pipe.explicit_transaction, len(pipe), await pipe.execute()]


async def _bad_arguments(pipe: Any, k: K) -> Any:
    await pipe.watch(k("x"))
    pipe.multi()
    pipe.hset(k("x"))  # DataError: no pairs


async def _bool_argument(pipe: Any, k: K) -> Any:
    await pipe.watch(k("x"))
    await pipe.set(k("x"), True)  # DataError: bool


SCENARIO: list[Step] = [
    _immediate_strings,
    _queued_strings,
    _hashes,
    _hash_counters_after_flush,
    _sorted_sets,
    _sorted_sets_again,
    _sets,
    _lists,
    _list_appends_after_flush,
    _set_max,
    _errors_in_exec,
    _error_raised_by_execute,
    _immediate_error,
    _transaction_misuse,
    _nested_multi,
    _watch_after_multi,
    _empty_execute,
    _reset_discards,
    _bad_arguments,
    _bool_argument,
]


def _outcome(exc: BaseException) -> tuple[str, str]:
    for kind in (ResponseError, DataError, RedisError):
        if isinstance(exc, kind):
            # redis-py prefixes the error raised by execute() with the failing command
            message = str(exc).split(" of pipeline caused error: ")[-1]
            return kind.__name__, message.removeprefix("('").removesuffix("',)")
    raise exc


def _plain(value: Any) -> Any:
    """Replies with errors (returned in place by `raise_on_error=False`) made comparable."""
    if isinstance(value, BaseException):
        return _outcome(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


async def _run(
    make_pipe: Callable[[], Any], keys: Keys, steps: list[Step], after: Callable[[], Any]
) -> list[Any]:
    out: list[Any] = []
    for step in steps:
        async with make_pipe() as pipe:
            try:
                out.append(_plain(await step(pipe, keys)))
            except (ResponseError, DataError, RedisError) as exc:
                out.append(_outcome(exc))
        await after()
    return out


async def _seed(redis: Redis, keys: Keys) -> None:
    """Existing data for the read-through scenario (every type the memory side can load)."""
    pipe = redis.pipeline(transaction=False)
    pipe.set(keys("s"), "old")
    pipe.set(keys("n"), "5")
    pipe.hset(keys("h"), mapping={"a": "10", "c": "x", "old": "field"})
    pipe.zadd(keys("z"), {"a": 3, "old": 0.5})
    pipe.sadd(keys("set"), "old", "b")
    pipe.rpush(keys("l"), "old1", "old2")
    pipe.set(keys("cp"), "11")
    await pipe.execute()


async def _dump(redis: Redis, keys: Keys) -> list[Any]:
    drift = await compare(redis, keys, keys, ignore=())
    assert drift == []
    return [k async for k in redis.scan_iter(match=f"{keys.prefix}*")]


MODES = ["fresh", "flush-each-step", "evict-each-step", "existing-data"]


@pytest.mark.parametrize("mode", MODES)
async def test_memory_pipeline_matches_redis(world: World, mode: str) -> None:
    real_keys, memory_keys = Keys(world.namespace, "real"), Keys(world.namespace, "memory")
    if mode == "existing-data":
        await _seed(world.redis, real_keys)
        await _seed(world.redis, memory_keys)
    fold = MemoryRedis(
        world.redis,
        complete=mode in ("fresh", "flush-each-step"),
        max_keys=0 if mode == "evict-each-step" else 1_000_000,
    )

    async def nothing() -> None:
        pass

    async def flush() -> None:
        await fold.flush()

    expected = await _run(
        lambda: world.redis.pipeline(transaction=True), real_keys, SCENARIO, nothing
    )
    actual = await _run(fold.pipeline, memory_keys, SCENARIO, nothing if mode == "fresh" else flush)
    for step, want, got in zip(SCENARIO, expected, actual, strict=True):
        assert got == want, step.__name__
    await fold.flush()
    assert fold.pending == 0
    assert await compare(world.redis, real_keys, memory_keys, ignore=()) == []
    assert len(await _dump(world.redis, real_keys)) >= 15
    if mode in ("evict-each-step", "existing-data"):
        assert fold.loads > 0  # the read-through path really ran
    else:
        assert fold.loads == 0  # a fresh key space is never read from Redis


async def test_flush_writes_behind_with_the_checkpoint(world: World) -> None:
    """Nothing reaches Redis before the flush; the checkpoint lands with the changes and only
    rises."""
    keys = Keys(world.namespace, "flush")
    fold = MemoryRedis(world.redis, complete=True)
    async with fold.pipeline() as pipe:
        await pipe.watch(keys("x"))
        pipe.multi()
        pipe.hset(keys("h"), "f", "v").rpush(keys("l"), "a")
        await pipe.execute()
    assert await world.redis.exists(keys("h")) == 0  # write-behind: nothing written yet
    assert await fold.flush(checkpoint=(keys.checkpoint("replay"), 42)) == 2
    assert await fold.flush(checkpoint=(keys.checkpoint("replay"), 7)) == 0
    assert await world.redis.hgetall(keys("h")) == {b"f": b"v"}
    assert await world.redis.lrange(keys("l"), 0, -1) == [b"a"]
    assert await world.redis.get(keys.checkpoint("replay")) == b"42"


async def test_flush_transaction_is_all_or_nothing(world: World) -> None:
    """The flush's writer is one MULTI/EXEC: a command Redis refuses while queueing aborts the
    whole transaction (an interrupted or failed flush never leaves half a chunk behind)."""
    keys = Keys(world.namespace, "tx")
    encode = MemoryRedis(world.redis, complete=True).encode
    with pytest.raises(ResponseError):
        await transaction(world.redis, [("SET", keys("a"), 1), ("HSET", keys("h"))], encode)
    assert await world.redis.exists(keys("a")) == 0
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await transaction(
            world.redis, [("SET", keys("s"), "x"), ("HSET", keys("s"), "f", "v")], encode
        )
    replies = await transaction(world.redis, [("SET", keys("b"), 2.5), ("INCR", keys("n"))], encode)
    assert replies == [b"OK", 1]
    assert await world.redis.get(keys("b")) == b"2.5"
    assert await world.redis.ping()  # the connection pool is still usable


async def test_decode_responses_client(world: World) -> None:
    """Replies follow the client's decode_responses, as redis-py's do."""
    redis = Redis.from_url(world.stack.redis_url, decode_responses=True)
    try:
        fold = MemoryRedis(redis, complete=True)
        keys = Keys(world.namespace, "decoded")
        async with fold.pipeline() as pipe:
            await pipe.watch(keys("x"))
            await pipe.hset(keys("h"), mapping={"a": "1"})
            await pipe.hincrby(keys("h"), "n", 2)
            assert await pipe.hgetall(keys("h")) == {"a": "1", "n": "2"}
            assert await pipe.get(keys("missing")) is None
    finally:
        await redis.aclose()


async def test_unsupported_commands_say_so(world: World) -> None:
    fold = MemoryRedis(world.redis, complete=True)
    pipe: Any = fold.pipeline()
    with pytest.raises(NotImplementedError):
        pipe.set("k", "v", ex=10)
    with pytest.raises(NotImplementedError):
        pipe.zadd("k", {"a": 1}, nx=True)
    with pytest.raises(NotImplementedError):
        pipe.eval("return 1", 0)
    with pytest.raises(NotImplementedError):
        fold.register_script("return 1")
    with pytest.raises(AttributeError):
        pipe.xadd  # noqa: B018 - a command the memory pipeline does not have
