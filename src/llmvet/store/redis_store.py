"""Shared store for several proxy replicas: plain Redis keys, counters and streams."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, cast

import orjson
import redis.asyncio as aioredis

from llmvet.store import keys as store_keys
from llmvet.store.health import PROBE_BYTES, WriteHealth

log = logging.getLogger("llmvet.store")
_PREFIX = "llmvet"
_RESUBSCRIBE_AFTER = (0.1, 0.5, 1.0, 2.0, 5.0)  # seconds between attempts while Redis is unreachable
# XADD every record, then SET the mark if there is one (the audit journal's high-water mark), atomically.
_APPEND = """
local ids = {}
for i = 2, #ARGV do ids[i - 1] = redis.call('XADD', KEYS[1], '*', 'r', ARGV[i]) end
if #KEYS > 1 then redis.call('SET', KEYS[2], ARGV[1]) end
return ids
"""
_GLOB = re.compile(r"([*?\[\]\\])")  # Redis MATCH metacharacters


class RedisStore:
    def __init__(self, url: str) -> None:
        self.url = url
        self.redis = aioredis.from_url(url, decode_responses=False)
        self._health = WriteHealth()
        self._append = self.redis.register_script(_APPEND)

    async def open(self) -> None:
        await self.redis.ping()

    @staticmethod
    def _k(ns: str, key: str) -> str:
        return f"{_PREFIX}:{ns}:{key}"

    async def get(self, ns: str, key: str) -> Any | None:
        raw = await self.redis.get(self._k(ns, key))
        return orjson.loads(raw) if raw is not None else None

    async def get_many(self, ns: str, keys: list[str]) -> dict[str, Any]:
        if not keys:
            return {}
        raws = await self.redis.mget([self._k(ns, k) for k in keys])
        return {k: orjson.loads(r) for k, r in zip(keys, raws, strict=True) if r is not None}

    async def set(self, ns: str, key: str, value: Any, ttl: float | None = None) -> None:
        with self._health.track():
            await self.redis.set(self._k(ns, key), orjson.dumps(value), px=int(ttl * 1000) if ttl else None)

    async def add(self, ns: str, key: str, value: Any, ttl: float | None = None) -> bool:
        with self._health.track():
            ok = await self.redis.set(
                self._k(ns, key), orjson.dumps(value), px=int(ttl * 1000) if ttl else None, nx=True
            )
        return bool(ok)

    async def delete(self, ns: str, key: str) -> bool:
        with self._health.track():
            return bool(await self.redis.delete(self._k(ns, key)))

    async def keys(self, ns: str, prefix: str = "") -> list[str]:
        base = len(_PREFIX) + len(ns) + 2
        pattern = _GLOB.sub(r"\\\1", self._k(ns, prefix)) + "*"  # the prefix is literal text, not a glob
        found = [k.decode()[base:] async for k in self.redis.scan_iter(match=pattern, count=500)]
        return sorted(found)

    async def incr(self, ns: str, key: str, amount: float = 1, ttl: float | None = None) -> float:
        k = self._k(ns, key)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incrbyfloat(k, amount)
            if ttl:
                pipe.pexpire(k, int(ttl * 1000), nx=True)  # only when the counter is new
            with self._health.track():
                value, *_ = await pipe.execute()
        return float(value)

    async def append(
        self, stream: str, records: Sequence[Mapping[str, Any]], mark: tuple[str, str, Any] | None = None
    ) -> list[str]:
        if not records and mark is None:
            return []
        # One script: Redis runs the XADDs (and the mark's SET) all or none, even if we die meanwhile;
        # and about twice as fast as a pipeline of XADDs (benchmarks/audit_journal.py).
        keys = [self._k("log", stream)] + ([self._k(mark[0], mark[1])] if mark is not None else [])
        args = [orjson.dumps(mark[2]) if mark is not None else b"", *(orjson.dumps(rec) for rec in records)]
        with self._health.track():
            ids = await self._append(keys=keys, args=args)
        return [_pad_id(i.decode()) for i in ids]

    async def read(self, stream: str, after: str | None = None, limit: int = 1000) -> list[tuple[str, dict[str, Any]]]:
        start = f"({_unpad_id(after)}" if after else "-"
        rows = await self.redis.xrange(self._k("log", stream), min=start, max="+", count=limit) or []
        # the client returns bytes (no decode_responses); the casts only tell the type checker so
        return [
            (_pad_id(cast(bytes, i).decode()), orjson.loads(cast(dict[bytes, bytes], fields)[b"r"]))
            for i, fields in rows
        ]

    async def trim(self, stream: str, *, before: float | None = None, keep_last: int | None = None) -> int:
        # Stream ids start with the append time in ms, so age is XTRIM MINID; exact, not "~", so the
        # count is what was dropped (each run removes only what aged since the last one).
        key, removed = self._k("log", stream), 0
        with self._health.track():
            if before is not None:
                removed += await self.redis.xtrim(key, minid=f"{int(before * 1000)}-0", approximate=False)
            if keep_last is not None:
                removed += await self.redis.xtrim(key, maxlen=keep_last, approximate=False)
        return removed

    # ---- sorted indexes: one sorted set per index ---------------------------------------------------------
    async def index_put(self, index: str, members: Mapping[str, float]) -> None:
        if members:
            with self._health.track():
                await self.redis.zadd(self._k("idx", index), dict(members))

    async def index_drop(self, index: str, members: Sequence[str]) -> int:
        if not members:
            return 0
        with self._health.track():
            return int(await self.redis.zrem(self._k("idx", index), *members))

    async def index_drop_below(self, index: str, score: float) -> int:
        with self._health.track():
            return int(await self.redis.zremrangebyscore(self._k("idx", index), "-inf", f"({score!r}"))

    async def index_range(
        self,
        index: str,
        *,
        lo: float | None = None,
        hi: float | None = None,
        offset: int = 0,
        limit: int | None = None,
        descending: bool = False,
    ) -> list[tuple[str, float]]:
        low, high = ("-inf" if lo is None else repr(lo)), ("+inf" if hi is None else repr(hi))
        rows = await self.redis.zrange(
            self._k("idx", index),
            high if descending else low,  # ZRANGE … BYSCORE REV takes the bounds high first
            low if descending else high,
            desc=descending,
            byscore=True,
            offset=offset,
            num=-1 if limit is None else limit,
            withscores=True,
        )
        # bytes members with float scores (withscores, no decode_responses): the cast tells the checker
        return [(m.decode(), float(score)) for m, score in cast(list[tuple[bytes, float]], rows)]

    async def index_count(self, index: str) -> int:
        return int(await self.redis.zcard(self._k("idx", index)))

    # ---- wake-ups: Redis pub/sub ----------------------------------------------------------------------------
    async def publish(self, channel: str, message: str) -> None:
        await self.redis.publish(self._k("chan", channel), message.encode())

    async def subscribe(self, channel: str) -> AsyncIterator[str | None]:
        name, failures = self._k("chan", channel), 0
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(name)
                if failures:
                    log.warning("subscribed to %s again after %d failed attempt(s)", name, failures)
                failures = 0
                yield None  # (re)subscribed: anything published meanwhile was missed
                while True:
                    msg = await pubsub.get_message(timeout=None)
                    if msg is not None and msg.get("type") == "message":
                        yield cast(bytes, msg["data"]).decode()
            except (aioredis.ConnectionError, aioredis.TimeoutError, OSError) as exc:
                if not failures:
                    log.warning("lost the subscription to %s (%s); subscribers fall back to polling", name, exc)
                await asyncio.sleep(_RESUBSCRIBE_AFTER[min(failures, len(_RESUBSCRIBE_AFTER) - 1)])
                failures += 1
            finally:
                await pubsub.aclose()

    async def ping(self) -> bool:
        return bool(await self.redis.ping())

    async def writable(self) -> bool:
        if self._health.recently_failed():
            return False
        # Fails when Redis refuses writes: out of memory (maxmemory, noeviction), a failing snapshot
        # (MISCONF), a read-only replica.
        key = self._k(store_keys.HEALTH, store_keys.WRITABLE_PROBE)
        await self.redis.set(key, b"0" * PROBE_BYTES, px=10_000)
        await self.redis.delete(key)
        return True

    async def close(self) -> None:
        await self.redis.aclose()


# Stream ids "ms-seq" padded so they sort as strings, like the SQLite ids do.
def _pad_id(i: str) -> str:
    ms, seq = i.split("-")
    return f"{int(ms):015d}-{int(seq):06d}"


def _unpad_id(i: str) -> str:
    ms, seq = i.split("-")
    return f"{int(ms)}-{int(seq)}"
