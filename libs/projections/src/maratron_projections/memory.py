"""An in-memory, write-behind stand-in for the Redis client, so a rebuild can run the projector
and every projection unchanged while touching Redis only in bulk.

Why this is safe: a rebuild writes a staging key space that nobody else reads or writes until
the swap, so a WATCH there can never fail and every read can be answered from memory. `MemoryRedis`
holds that key space (or the part of it touched so far) as Python values, runs `Projector` and
`Projection.apply` against `MemoryPipeline` objects (the subset of the redis-py asyncio
`Pipeline` API the projections use, with Redis's semantics and redis-py's reply types), records
which keys and members changed, and `flush()` writes those changes to Redis in one MULTI/EXEC
together with the build's checkpoint: an interrupted build resumes from a checkpoint that matches
the flushed state exactly (a partially written flush would double-apply increments on resume).

When the key space may already hold data in Redis (a resumed build, or after `flush()` evicted
the cache to bound memory), a key is read through from Redis the first time it is touched: an
immediate read loads it at once; queued commands load every unknown key they name, in one
pipelined round trip, before EXEC applies them.

Not supported (raises `NotImplementedError`): command options the projections do not use
(SET EX/NX..., ZADD NX/XX/GT/LT/CH/INCR), scripts other than the projector's set-max, and a
script called on a pipeline. Differences from redis-py that no projection can observe: argument
encoding errors (`DataError`) surface when a command is queued rather than at `execute()`, and
WATCH never fails.
"""

from __future__ import annotations

import codecs
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, TypeAlias

from redis.asyncio import Redis
from redis.exceptions import DataError, RedisError, ResponseError

from maratron_projections.projector import SET_MAX_SCRIPT


class _Hash(dict[bytes, "bytes | int"]):
    """A hash; a field written by HINCRBY holds a Python int (no parse/format per increment)."""

    __slots__ = ()


class _ZSet(dict[bytes, float]):
    __slots__ = ()


Value: TypeAlias = "bytes | _Hash | _ZSet | set[bytes] | list[bytes]"
Change: TypeAlias = "set[bytes] | int | None"
"""What changed in a key since the last flush: None = rewrite it whole (or delete it); a set =
these members of a hash/zset/set; an int = that many values appended to a list's tail."""
Command: TypeAlias = "tuple[Callable[..., Any], tuple[bytes, ...], tuple[Any, ...]]"

WRONGTYPE: Final = "WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_INTEGER: Final = "value is not an integer or out of range"
HASH_NOT_INTEGER: Final = "hash value is not an integer"
OVERFLOW: Final = "increment or decrement would overflow"
NOT_FLOAT: Final = "value is not a valid float"
_INT_RE: Final = re.compile(rb"-?[1-9][0-9]*|0")
_MIN_INT: Final = -(2**63)
_MAX_INT: Final = 2**63 - 1
_ARGS_PER_COMMAND: Final = 2000
_LOAD_BATCH: Final = 500
_UNCHANGED: Final[Any] = object()

# KEYS: the keys to load. -> per key {type} or {type, contents} (zset scores as strings).
_LOAD = """
local out = {}
for i, k in ipairs(KEYS) do
  local t = redis.call('TYPE', k).ok
  if t == 'string' then out[i] = {t, redis.call('GET', k)}
  elseif t == 'hash' then out[i] = {t, redis.call('HGETALL', k)}
  elseif t == 'set' then out[i] = {t, redis.call('SMEMBERS', k)}
  elseif t == 'zset' then out[i] = {t, redis.call('ZRANGE', k, 0, -1, 'WITHSCORES')}
  elseif t == 'list' then out[i] = {t, redis.call('LRANGE', k, 0, -1)}
  else out[i] = {t} end
end
return out
"""


def _strict_int(raw: bytes, message: str = NOT_INTEGER) -> int:
    """Redis's string2ll: optional '-', no leading zeros, no spaces, 64-bit."""
    if len(raw) > 20 or _INT_RE.fullmatch(raw) is None:
        raise ResponseError(message)
    value = int(raw)
    if not _MIN_INT <= value <= _MAX_INT:
        raise ResponseError(message)
    return value


def _score(raw: bytes) -> float:
    """Redis's score parser (strtod, the whole string, no NaN)."""
    try:
        if raw != raw.strip() or b"_" in raw:
            raise ValueError
        value = float(raw)
    except ValueError:
        raise ResponseError(NOT_FLOAT) from None
    if math.isnan(value):
        raise ResponseError(NOT_FLOAT)
    return value


def _number_score(value: Any) -> float | None:
    """The score Redis parses from redis-py's repr() of an int or float, without the round trip
    (repr of a float reads back exactly; an int converts with the same rounding). None: other
    types, and NaN/0 (left to `_score`, which also keeps -0.0 and errors right)."""
    kind = type(value)
    if kind is float or (kind is int and -(2**53) <= value <= 2**53):
        score = float(value)
        if score == score and score != 0:
            return score
    return None


def _lua_number(raw: bytes) -> float | None:
    """Lua's tonumber() on a string, as the set-max script applies it (None: not a number)."""
    text = raw.decode("latin-1").strip()
    try:
        return float(int(text, 16)) if text.lower().lstrip("+-").startswith("0x") else float(text)
    except ValueError:
        return None


def _indexes(length: int, start: int, end: int) -> tuple[int, int]:
    """LRANGE/LTRIM/ZRANGE index normalisation -> a Python slice [lo, hi) (empty if lo >= hi)."""
    if start < 0:
        start += length
    if end < 0:
        end += length
    start = max(start, 0)
    if start > end or start >= length:
        return 0, 0
    return start, min(end, length - 1) + 1


def argument_encoder(redis: Redis) -> Callable[[Any], bytes]:
    """redis-py's argument encoding for `redis` (bytes as is, str in the client's encoding,
    int/float by repr, anything else a DataError), with fast paths for the common types."""
    encoder = redis.connection_pool.get_encoder()  # type: ignore[no-untyped-call]
    generic = encoder.encode
    if codecs.lookup(encoder.encoding).name != "utf-8" or encoder.encoding_errors != "strict":
        return lambda value: value if type(value) is bytes else bytes(generic(value))

    def encode(value: Any) -> bytes:
        kind = type(value)
        if kind is str:
            return value.encode()  # type: ignore[no-any-return]
        if kind is bytes:
            return value  # type: ignore[no-any-return]
        if kind is int:
            return b"%d" % value
        return bytes(generic(value))

    return encode


class MemoryRedis:
    """The key space of one build, in memory. Hand it to `Projector` in place of `Redis`.

    `complete`: every key of the key space is in memory (or known to be absent), so nothing is
    ever read from Redis: true for a fresh build into an empty space. `max_keys`: after a flush
    with more keys than this in memory, the cache is dropped and keys are read through again."""

    def __init__(self, redis: Redis, *, complete: bool, max_keys: int = 1_500_000) -> None:
        self.redis = redis
        self.complete = complete
        self.max_keys = max_keys
        self._data: dict[bytes, Value] = {}
        self._changes: dict[bytes, Change] = {}
        self._persisted: set[bytes] = set()  # keys that may exist in Redis
        self._known: set[bytes] = set()  # keys loaded from Redis (when not complete)
        self.loads = 0  # keys read through from Redis (for tests and diagnostics)
        encoder = redis.connection_pool.get_encoder()  # type: ignore[no-untyped-call]
        self._encoding: str = encoder.encoding
        self._errors: str = encoder.encoding_errors
        self._decode: bool = bool(encoder.decode_responses)
        self.encode: Callable[[Any], bytes] = argument_encoder(redis)

    # -- the client surface the projector uses --------------------------------------------
    def pipeline(self, transaction: bool = True, shard_hint: str | None = None) -> MemoryPipeline:
        return MemoryPipeline(self)

    def register_script(self, script: str) -> MemoryScript:
        if script != SET_MAX_SCRIPT:
            raise NotImplementedError("MemoryRedis runs only the projector's set-max script")
        return MemoryScript(self)

    async def get(self, name: Any) -> Any:
        key = self.encode(name)
        return await self.now(self._get, (key,), (key,))

    async def exists(self, *names: Any) -> int:
        keys = tuple(self.encode(n) for n in names)
        result: int = await self.now(self._exists, keys, keys)
        return result

    @property
    def pending(self) -> int:
        """Keys changed since the last flush."""
        return len(self._changes)

    @property
    def cached(self) -> int:
        return len(self._data)

    # -- encoding, loading ------------------------------------------------------------------
    def reply(self, value: bytes) -> Any:
        return value.decode(self._encoding, self._errors) if self._decode else value

    async def now(
        self, fn: Callable[..., Any], keys: tuple[bytes, ...], args: tuple[Any, ...]
    ) -> Any:
        """Run one command immediately (reading its keys through first when needed)."""
        if not self.complete:
            await self.load(keys)
        return fn(*args)

    async def load(self, keys: Iterable[bytes]) -> None:
        """Read the keys not yet known from Redis, in one pipelined round trip."""
        known = self._known
        wanted = list(dict.fromkeys(k for k in keys if k not in known))
        if not wanted:
            return
        pipe = self.redis.pipeline(transaction=False)
        for i in range(0, len(wanted), _LOAD_BATCH):
            batch = wanted[i : i + _LOAD_BATCH]
            pipe.eval(_LOAD, len(batch), *batch)
        replies: list[Any] = []
        for part in await pipe.execute():
            replies.extend(part)
        for key, reply in zip(wanted, replies, strict=True):
            known.add(key)
            self.loads += 1
            kind = self.encode(reply[0])
            if kind == b"none":
                continue
            self._data[key] = self._parse(kind, reply[1])
            self._persisted.add(key)

    def _parse(self, kind: bytes, raw: Any) -> Value:
        enc = self.encode
        if kind == b"string":
            return enc(raw)
        if kind == b"list":
            return [enc(v) for v in raw]
        if kind == b"set":
            return {enc(v) for v in raw}
        if kind == b"hash":
            return _Hash(zip(map(enc, raw[::2]), map(enc, raw[1::2]), strict=True))
        if kind == b"zset":
            return _ZSet(zip(map(enc, raw[::2]), (float(enc(s)) for s in raw[1::2]), strict=True))
        raise NotImplementedError(f"MemoryRedis cannot hold a Redis {kind.decode()}")

    # -- change tracking --------------------------------------------------------------------
    def _rewrite(self, key: bytes) -> None:
        self._changes[key] = None

    def _member(self, key: bytes, member: bytes) -> None:
        """`member` of the hash/zset/set `key` changed."""
        changes = self._changes
        change = changes.get(key, _UNCHANGED)
        if change is _UNCHANGED:
            changes[key] = {member}
        elif change is not None:
            change.add(member)  # type: ignore[union-attr]

    def _container(self, key: bytes, kind: type[Any]) -> Any:
        """The key's value of `kind` (created empty, marked for a whole rewrite, if absent)."""
        value = self._data.get(key)
        if value is None:
            value = self._data[key] = kind()
            self._changes[key] = None
        elif type(value) is not kind:
            raise ResponseError(WRONGTYPE)
        return value

    def _existing(self, key: bytes, kind: type[Any]) -> Any:
        value = self._data.get(key)
        if value is not None and type(value) is not kind:
            raise ResponseError(WRONGTYPE)
        return value

    def _drop_if_empty(self, key: bytes, value: Value) -> None:
        if not value:
            del self._data[key]
            self._changes[key] = None

    # -- commands (key bytes and encoded arguments in; redis-py reply types out) -------------
    def _get(self, key: bytes) -> Any:
        value = self._data.get(key)
        if value is None:
            return None
        if type(value) is not bytes:
            raise ResponseError(WRONGTYPE)
        return value.decode(self._encoding, self._errors) if self._decode else value

    def _set(self, key: bytes, value: bytes) -> bool:
        self._data[key] = value
        self._changes[key] = None
        return True

    def _incrby(self, key: bytes, amount: bytes) -> int:
        current = self._existing(key, bytes)
        result = (0 if current is None else _strict_int(current)) + _strict_int(amount)
        if not _MIN_INT <= result <= _MAX_INT:
            raise ResponseError(OVERFLOW)
        self._data[key] = str(result).encode()
        self._changes[key] = None
        return result

    def _delete(self, *keys: bytes) -> int:
        removed = 0
        for key in keys:
            if self._data.pop(key, None) is not None:
                self._changes[key] = None
                removed += 1
        return removed

    def _exists(self, *keys: bytes) -> int:
        return sum(key in self._data for key in keys)

    def _hset(self, key: bytes, pairs: tuple[bytes, ...]) -> int:
        h = self._container(key, _Hash)
        added = 0
        for i in range(0, len(pairs), 2):
            field = pairs[i]
            if field not in h:
                added += 1
            h[field] = pairs[i + 1]
            self._member(key, field)
        return added

    def _field(self, value: bytes | int) -> Any:
        return self.reply(value if isinstance(value, bytes) else b"%d" % value)

    def _hget(self, key: bytes, field: bytes) -> Any:
        h = self._existing(key, _Hash)
        if h is None:
            return None
        value = h.get(field)
        return None if value is None else self._field(value)

    def _hgetall(self, key: bytes) -> dict[Any, Any]:
        h = self._existing(key, _Hash)
        if h is None:
            return {}
        reply, field = self.reply, self._field
        return {reply(f): field(v) for f, v in h.items()}

    def _hmget(self, key: bytes, *fields: bytes) -> list[Any]:
        h = self._existing(key, _Hash) or {}
        return [None if (v := h.get(f)) is None else self._field(v) for f in fields]

    def _hlen(self, key: bytes) -> int:
        return len(self._existing(key, _Hash) or ())

    def _hexists(self, key: bytes, field: bytes) -> bool:
        return field in (self._existing(key, _Hash) or ())

    def _hdel(self, key: bytes, *fields: bytes) -> int:
        h = self._existing(key, _Hash)
        if h is None:
            return 0
        removed = 0
        for field in fields:
            if h.pop(field, None) is not None:
                removed += 1
                self._member(key, field)
        self._drop_if_empty(key, h)
        return removed

    def _hincrby(self, key: bytes, field: bytes, delta: int) -> int:
        # The hottest command of a rebuild (day/month aggregates): `_container` and `_member`
        # inlined.
        if not _MIN_INT <= delta <= _MAX_INT:
            raise ResponseError(NOT_INTEGER)
        changes = self._changes
        h = self._data.get(key)
        if h is None:
            h = self._data[key] = _Hash()
            changes[key] = None
            current = None
        elif type(h) is not _Hash:
            raise ResponseError(WRONGTYPE)
        else:
            current = h.get(field)
        if current is None:
            result = delta
        elif type(current) is int:
            result = current + delta
        else:
            result = _strict_int(current, HASH_NOT_INTEGER) + delta  # type: ignore[arg-type]
        if not _MIN_INT <= result <= _MAX_INT:
            self._drop_if_empty(key, h)
            raise ResponseError(OVERFLOW)
        h[field] = result
        change = changes.get(key, _UNCHANGED)
        if change is _UNCHANGED:
            changes[key] = {field}
        elif change is not None:
            change.add(field)  # type: ignore[union-attr]
        return result

    def _zadd(self, key: bytes, pairs: tuple[tuple[bytes, float], ...]) -> int:
        z = self._container(key, _ZSet)
        added = 0
        for member, score in pairs:
            old = z.get(member)
            if old is None:
                added += 1
            elif old == score:
                continue
            z[member] = score
            self._member(key, member)
        return added

    def _zrem(self, key: bytes, *members: bytes) -> int:
        z = self._existing(key, _ZSet)
        if z is None:
            return 0
        removed = 0
        for member in members:
            if z.pop(member, None) is not None:
                removed += 1
                self._member(key, member)
        self._drop_if_empty(key, z)
        return removed

    def _zscore(self, key: bytes, member: bytes) -> float | None:
        return (self._existing(key, _ZSet) or {}).get(member)

    def _zcard(self, key: bytes) -> int:
        return len(self._existing(key, _ZSet) or ())

    def _zrange(self, key: bytes, start: int, end: int, withscores: bool) -> list[Any]:
        z = self._existing(key, _ZSet) or {}
        ordered = sorted(z.items(), key=lambda item: (item[1], item[0]))
        lo, hi = _indexes(len(ordered), start, end)
        if withscores:
            return [(self.reply(m), s) for m, s in ordered[lo:hi]]
        return [self.reply(m) for m, _ in ordered[lo:hi]]

    def _sadd(self, key: bytes, *members: bytes) -> int:
        s = self._container(key, set)
        added = 0
        for member in members:
            if member not in s:
                s.add(member)
                added += 1
                self._member(key, member)
        return added

    def _srem(self, key: bytes, *members: bytes) -> int:
        s = self._existing(key, set)
        if s is None:
            return 0
        removed = 0
        for member in members:
            if member in s:
                s.discard(member)
                removed += 1
                self._member(key, member)
        self._drop_if_empty(key, s)
        return removed

    def _smembers(self, key: bytes) -> set[Any]:
        return {self.reply(m) for m in self._existing(key, set) or ()}

    def _sismember(self, key: bytes, member: bytes) -> bool:
        return member in (self._existing(key, set) or ())

    def _scard(self, key: bytes) -> int:
        return len(self._existing(key, set) or ())

    def _rpush(self, key: bytes, *values: bytes) -> int:
        existed = key in self._data
        items = self._container(key, list)
        items.extend(values)
        if existed:
            change = self._changes.get(key, 0)
            if type(change) is int:
                self._changes[key] = change + len(values)
        return len(items)

    def _lpush(self, key: bytes, *values: bytes) -> int:
        items = self._container(key, list)
        items[:0] = reversed(values)
        self._rewrite(key)
        return len(items)

    def _ltrim(self, key: bytes, start: int, end: int) -> bool:
        items = self._existing(key, list)
        if items is None:
            return True
        lo, hi = _indexes(len(items), start, end)
        if lo != 0 or hi != len(items):
            items[:] = items[lo:hi]
            self._rewrite(key)
            self._drop_if_empty(key, items)
        return True

    def _lrange(self, key: bytes, start: int, end: int) -> list[Any]:
        items = self._existing(key, list) or []
        lo, hi = _indexes(len(items), start, end)
        return [self.reply(v) for v in items[lo:hi]]

    def _llen(self, key: bytes) -> int:
        return len(self._existing(key, list) or ())

    def _set_max(self, key: bytes, raw: bytes) -> int:
        current_raw = self._existing(key, bytes)
        current = _lua_number(b"0" if current_raw is None else current_raw)
        new = _lua_number(raw)
        if current is None or new is None:
            raise ResponseError("ERR user_script: attempt to compare nil with number")
        if new > current:
            self._set(key, raw)
            return int(new)
        return int(current)

    # -- write-behind -----------------------------------------------------------------------
    async def flush(self, *, checkpoint: tuple[str, int] | None = None) -> int:
        """Write every change since the last flush to Redis, with `checkpoint` (key, position)
        raised by the projector's set-max, in ONE MULTI/EXEC. Returns the keys written."""
        data, persisted = self._data, self._persisted
        deletes: list[bytes] = []
        strings: list[bytes] = []
        writes: list[tuple[Any, ...]] = []
        for key, change in self._changes.items():
            value = data.get(key)
            if value is None:
                if key in persisted:
                    deletes.append(key)
                    persisted.discard(key)
                continue
            if type(value) is bytes:
                strings += (key, value)
                persisted.add(key)
                continue
            if change is None:
                if key in persisted:
                    deletes.append(key)
                writes.extend(self._whole(key, value))
            elif type(change) is int:
                if change:
                    assert type(value) is list
                    writes.append(("RPUSH", key, *value[-change:]))
            else:
                writes.extend(self._delta(key, value, change))  # type: ignore[arg-type]
            persisted.add(key)
        commands = self._chunks("DEL", None, deletes) + self._chunks("MSET", None, strings)
        commands += writes
        if checkpoint is not None:
            commands.append(("EVAL", SET_MAX_SCRIPT, 1, checkpoint[0], checkpoint[1]))
        written = len(self._changes)
        if commands:
            await transaction(self.redis, commands, self.encode)
        self._changes.clear()
        if len(data) > self.max_keys:
            self.evict()
        return written

    def evict(self) -> None:
        """Forget the cached key space (everything is flushed): keys are read through again."""
        if self._changes:
            raise RuntimeError("evict() with unflushed changes")
        self._data.clear()
        self._known.clear()
        self._persisted.clear()
        self.complete = False

    @staticmethod
    def _chunks(command: str, key: bytes | None, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        step = _ARGS_PER_COMMAND
        head = (command,) if key is None else (command, key)
        return [(*head, *args[i : i + step]) for i in range(0, len(args), step)]

    def _whole(self, key: bytes, value: Value) -> list[tuple[Any, ...]]:
        if type(value) is _Hash:
            flat = [x for pair in value.items() for x in pair]
            return self._chunks("HSET", key, flat)
        if type(value) is _ZSet:
            scored: list[Any] = [x for member, score in value.items() for x in (score, member)]
            return self._chunks("ZADD", key, scored)
        if type(value) is set:
            return self._chunks("SADD", key, list(value))
        return self._chunks("RPUSH", key, value)  # type: ignore[arg-type]

    def _delta(self, key: bytes, value: Value, members: set[bytes]) -> list[tuple[Any, ...]]:
        if type(value) is _Hash:
            flat = [x for m in members if (v := value.get(m)) is not None for x in (m, v)]
            gone = [m for m in members if m not in value]
            return self._chunks("HSET", key, flat) + self._chunks("HDEL", key, gone)
        if type(value) is _ZSet:
            pairs: list[Any] = [
                x for m in members if (s := value.get(m)) is not None for x in (s, m)
            ]
            gone = [m for m in members if m not in value]
            return self._chunks("ZADD", key, pairs) + self._chunks("ZREM", key, gone)
        assert type(value) is set
        present = [m for m in members if m in value]
        gone = [m for m in members if m not in value]
        return self._chunks("SADD", key, present) + self._chunks("SREM", key, gone)


def _pack(command: tuple[Any, ...], encode: Callable[[Any], bytes]) -> bytes:
    """One command in RESP (what redis-py's `pack_command` does, without its per-argument
    overhead, which dominated a flush)."""
    parts = [b"*%d\r\n" % len(command)]
    for arg in command:
        raw = arg if type(arg) is bytes else encode(arg)
        parts.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
    return b"".join(parts)


async def transaction(
    redis: Redis, commands: Sequence[tuple[Any, ...]], encode: Callable[[Any], bytes]
) -> list[Any]:
    """MULTI, `commands`, EXEC on one connection of `redis`'s pool, packed here. Redis applies
    all of them or (a command refused when queued: EXECABORT) none; a command failing when
    applied raises its error after EXEC, as redis-py's `execute()` does."""
    payload = b"".join(_pack(c, encode) for c in [("MULTI",), *commands, ("EXEC",)])
    pool = redis.connection_pool
    conn = await pool.get_connection()  # type: ignore[no-untyped-call]
    try:
        await conn.send_packed_command(payload)
        replies = [await conn.read_response() for _ in range(len(commands) + 2)]
    except BaseException:
        await conn.disconnect()  # replies may still be in flight on it
        raise
    finally:
        await pool.release(conn)
    results = replies[-1]
    if not isinstance(results, list) or len(results) != len(commands):
        raise ResponseError(f"unexpected EXEC reply {results!r}")
    for result in results:
        if isinstance(result, ResponseError):
            raise result
    return results


class MemoryScript:
    """`register_script(SET_MAX_SCRIPT)` of a `MemoryRedis`."""

    def __init__(self, fold: MemoryRedis) -> None:
        self._fold = fold

    async def __call__(
        self, keys: Sequence[Any] = (), args: Sequence[Any] = (), client: Any = None
    ) -> int:
        if client is not None:
            raise NotImplementedError("MemoryScript runs on its MemoryRedis only")
        key = self._fold.encode(keys[0])
        result: int = await self._fold.now(
            self._fold._set_max, (key,), (key, self._fold.encode(args[0]))
        )
        return result


class MemoryPipeline:
    """The redis-py asyncio `Pipeline` surface the projections use, over a `MemoryRedis`.

    Modes as in redis-py: after `watch()` and before `multi()` commands run immediately (their
    call returns an awaitable); otherwise they are queued (the call returns the pipeline) and
    `execute()` applies them in order, returns their replies and resets the pipeline. An error
    of one queued command (e.g. WRONGTYPE) does not stop the others, as in EXEC; `execute()`
    then raises the first one (or returns it in place with `raise_on_error=False`)."""

    def __init__(self, fold: MemoryRedis) -> None:
        self._fold = fold
        self._enc = fold.encode
        self.watching = False
        self.explicit_transaction = False
        self.command_stack: list[Command] = []

    async def __aenter__(self) -> MemoryPipeline:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.reset()

    def __await__(self) -> Any:
        return self._self().__await__()

    async def _self(self) -> MemoryPipeline:
        return self

    def __len__(self) -> int:
        return len(self.command_stack)

    def __bool__(self) -> bool:
        return True

    # -- transaction control ----------------------------------------------------------------
    async def reset(self) -> None:
        self.command_stack = []
        self.watching = False
        self.explicit_transaction = False

    async def aclose(self) -> None:
        await self.reset()

    async def watch(self, *names: Any) -> bool:
        if self.explicit_transaction:
            raise RedisError("Cannot issue a WATCH after a MULTI")
        if not names:
            raise ResponseError("wrong number of arguments for 'watch' command")
        self.watching = True
        return True

    async def unwatch(self) -> bool:
        self.watching = False
        return True

    def multi(self) -> None:
        if self.explicit_transaction:
            raise RedisError("Cannot issue nested calls to MULTI")
        if self.command_stack:
            raise RedisError("Commands without an initial WATCH have already been issued")
        self.explicit_transaction = True

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        stack = self.command_stack
        if not stack and not self.watching:
            return []
        try:
            fold = self._fold
            if not fold.complete:
                await fold.load(k for _, keys, _ in stack for k in keys)
            results: list[Any] = []
            append = results.append
            first_error: ResponseError | None = None
            for fn, _, args in stack:
                try:
                    append(fn(*args))
                except ResponseError as exc:
                    append(exc)
                    first_error = first_error or exc
            if raise_on_error and first_error is not None:
                raise first_error
            return results
        finally:
            self.command_stack = []
            self.watching = False
            self.explicit_transaction = False

    def _call(self, fn: Callable[..., Any], keys: tuple[bytes, ...], *args: Any) -> Any:
        if self.watching and not self.explicit_transaction:
            return self._fold.now(fn, keys, args)
        self.command_stack.append((fn, keys, args))
        return self

    @staticmethod
    def _arity(name: str, values: Sequence[Any]) -> None:
        if not values:
            raise ResponseError(f"wrong number of arguments for '{name}' command")

    # -- strings ----------------------------------------------------------------------------
    def get(self, name: Any) -> Any:
        key = self._enc(name)
        return self._call(self._fold._get, (key,), key)

    def set(
        self,
        name: Any,
        value: Any,
        ex: Any = None,
        px: Any = None,
        nx: bool = False,
        xx: bool = False,
        keepttl: bool = False,
        get: bool = False,
        exat: Any = None,
        pxat: Any = None,
    ) -> Any:
        if ex or px or nx or xx or keepttl or get or exat or pxat:
            raise NotImplementedError("MemoryPipeline.set supports no options")
        key = self._enc(name)
        return self._call(self._fold._set, (key,), key, self._enc(value))

    def incrby(self, name: Any, amount: int = 1) -> Any:
        key = self._enc(name)
        return self._call(self._fold._incrby, (key,), key, self._enc(amount))

    incr = incrby

    def delete(self, *names: Any) -> Any:
        self._arity("del", names)
        keys = tuple(self._enc(n) for n in names)
        return self._call(self._fold._delete, keys, *keys)

    def exists(self, *names: Any) -> Any:
        self._arity("exists", names)
        keys = tuple(self._enc(n) for n in names)
        return self._call(self._fold._exists, keys, *keys)

    # -- hashes -----------------------------------------------------------------------------
    def hset(
        self,
        name: Any,
        key: Any = None,
        value: Any = None,
        mapping: Mapping[Any, Any] | None = None,
        items: Sequence[Any] | None = None,
    ) -> Any:
        if key is None and not mapping and not items:
            raise DataError("'hset' with no key value pairs")
        if items and len(items) % 2 != 0:
            raise DataError("'hset' with invalid number of items")
        enc = self._enc
        pieces: list[bytes] = [enc(x) for x in items or ()]
        if key is not None:
            pieces += (enc(key), enc(value))
        if mapping:
            for field, item in mapping.items():
                pieces += (enc(field), enc(item))
        k = enc(name)
        return self._call(self._fold._hset, (k,), k, tuple(pieces))

    def hget(self, name: Any, key: Any) -> Any:
        k = self._enc(name)
        return self._call(self._fold._hget, (k,), k, self._enc(key))

    def hgetall(self, name: Any) -> Any:
        k = self._enc(name)
        return self._call(self._fold._hgetall, (k,), k)

    def hmget(self, name: Any, keys: Sequence[Any], *args: Any) -> Any:
        fields = [*([keys] if isinstance(keys, str | bytes) else keys), *args]
        self._arity("hmget", fields)
        k = self._enc(name)
        return self._call(self._fold._hmget, (k,), k, *map(self._enc, fields))

    def hlen(self, name: Any) -> Any:
        k = self._enc(name)
        return self._call(self._fold._hlen, (k,), k)

    def hexists(self, name: Any, key: Any) -> Any:
        k = self._enc(name)
        return self._call(self._fold._hexists, (k,), k, self._enc(key))

    def hdel(self, name: Any, *keys: Any) -> Any:
        self._arity("hdel", keys)
        k = self._enc(name)
        return self._call(self._fold._hdel, (k,), k, *map(self._enc, keys))

    def hincrby(self, name: Any, key: Any, amount: int = 1) -> Any:
        enc = self._enc
        k = enc(name)
        delta = amount if type(amount) is int else _strict_int(enc(amount))
        if self.watching and not self.explicit_transaction:
            return self._fold.now(self._fold._hincrby, (k,), (k, enc(key), delta))
        self.command_stack.append((self._fold._hincrby, (k,), (k, enc(key), delta)))
        return self

    # -- sorted sets --------------------------------------------------------------------------
    def zadd(
        self,
        name: Any,
        mapping: Mapping[Any, Any],
        nx: bool = False,
        xx: bool = False,
        ch: bool = False,
        incr: bool = False,
        gt: bool = False,
        lt: bool = False,
    ) -> Any:
        if not mapping:
            raise DataError("ZADD requires at least one element/score pair")
        if nx or xx or ch or incr or gt or lt:
            raise NotImplementedError("MemoryPipeline.zadd supports no options")
        enc = self._enc
        pairs = tuple((enc(m), _number_score(s) or _score(enc(s))) for m, s in mapping.items())
        k = enc(name)
        return self._call(self._fold._zadd, (k,), k, pairs)

    def zrem(self, name: Any, *values: Any) -> Any:
        self._arity("zrem", values)
        k = self._enc(name)
        return self._call(self._fold._zrem, (k,), k, *map(self._enc, values))

    def zscore(self, name: Any, value: Any) -> Any:
        k = self._enc(name)
        return self._call(self._fold._zscore, (k,), k, self._enc(value))

    def zcard(self, name: Any) -> Any:
        k = self._enc(name)
        return self._call(self._fold._zcard, (k,), k)

    def zrange(self, name: Any, start: int, end: int, withscores: bool = False) -> Any:
        k = self._enc(name)
        return self._call(self._fold._zrange, (k,), k, int(start), int(end), withscores)

    # -- sets ---------------------------------------------------------------------------------
    def sadd(self, name: Any, *values: Any) -> Any:
        self._arity("sadd", values)
        k = self._enc(name)
        return self._call(self._fold._sadd, (k,), k, *map(self._enc, values))

    def srem(self, name: Any, *values: Any) -> Any:
        self._arity("srem", values)
        k = self._enc(name)
        return self._call(self._fold._srem, (k,), k, *map(self._enc, values))

    def smembers(self, name: Any) -> Any:
        k = self._enc(name)
        return self._call(self._fold._smembers, (k,), k)

    def sismember(self, name: Any, value: Any) -> Any:
        k = self._enc(name)
        return self._call(self._fold._sismember, (k,), k, self._enc(value))

    def scard(self, name: Any) -> Any:
        k = self._enc(name)
        return self._call(self._fold._scard, (k,), k)

    # -- lists --------------------------------------------------------------------------------
    def rpush(self, name: Any, *values: Any) -> Any:
        self._arity("rpush", values)
        k = self._enc(name)
        return self._call(self._fold._rpush, (k,), k, *map(self._enc, values))

    def lpush(self, name: Any, *values: Any) -> Any:
        self._arity("lpush", values)
        k = self._enc(name)
        return self._call(self._fold._lpush, (k,), k, *map(self._enc, values))

    def ltrim(self, name: Any, start: int, end: int) -> Any:
        k = self._enc(name)
        return self._call(self._fold._ltrim, (k,), k, int(start), int(end))

    def lrange(self, name: Any, start: int, end: int) -> Any:
        k = self._enc(name)
        return self._call(self._fold._lrange, (k,), k, int(start), int(end))

    def llen(self, name: Any) -> Any:
        k = self._enc(name)
        return self._call(self._fold._llen, (k,), k)

    # -- scripts ------------------------------------------------------------------------------
    def eval(self, script: str, numkeys: int, *keys_and_args: Any) -> Any:
        if script != SET_MAX_SCRIPT or numkeys != 1 or len(keys_and_args) != 2:
            raise NotImplementedError("MemoryPipeline.eval runs only the projector's set-max")
        k = self._enc(keys_and_args[0])
        return self._call(self._fold._set_max, (k,), k, self._enc(keys_and_args[1]))


__all__ = ["MemoryPipeline", "MemoryRedis", "MemoryScript", "argument_encoder", "transaction"]
