"""Embedded store: one SQLite file, WAL mode, accessed through aiosqlite's worker thread."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import aiosqlite
import orjson

from llmvet.store import keys as store_keys
from llmvet.store.channels import LocalChannels
from llmvet.store.health import PROBE_BYTES, WriteHealth

_PURGE_EVERY = 600.0  # seconds between deletions of expired keys
_TRIM_BATCH = 5000  # log rows deleted per write: appends wait for one batch, never for the whole trim
_TRIM_SQL = "DELETE FROM log WHERE id IN (SELECT id FROM log WHERE stream=? AND id<=? ORDER BY id LIMIT ?)"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    ns TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, expires REAL,
    PRIMARY KEY (ns, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS log (
    id INTEGER PRIMARY KEY AUTOINCREMENT, stream TEXT NOT NULL, ts REAL NOT NULL, record BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS log_stream ON log (stream, id);
CREATE INDEX IF NOT EXISTS log_stream_ts ON log (stream, ts);
CREATE TABLE IF NOT EXISTS idx (
    name TEXT NOT NULL, member TEXT NOT NULL, score REAL NOT NULL, PRIMARY KEY (name, member)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_by_score ON idx (name, score, member);
-- members per index, kept by triggers: counting never walks the index
CREATE TABLE IF NOT EXISTS idx_size (name TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS idx_added AFTER INSERT ON idx BEGIN
    INSERT INTO idx_size (name, n) VALUES (new.name, 1) ON CONFLICT (name) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS idx_removed AFTER DELETE ON idx BEGIN
    UPDATE idx_size SET n = n - 1 WHERE name = old.name;
END;
"""
# Rows per INSERT statement of `append`: 3 parameters each, under SQLite's oldest limit of 999. One
# statement per batch, not executemany's one step per row: the worker thread gives the GIL back and
# takes it again around every step, and under load each take waited on the event loop's thread.
_APPEND_ROWS = 256
Row = tuple[str, float, bytes]  # a log row: stream, append time, the record's JSON
_INDEX_PUT = (
    "INSERT INTO idx (name, member, score) VALUES (?,?,?) ON CONFLICT (name, member) DO UPDATE SET score=excluded.score"
)


@functools.lru_cache(maxsize=16)
def _append_sql(rows: int) -> str:
    return "INSERT INTO log (stream, ts, record) VALUES " + ",".join(["(?,?,?)"] * rows)


def _append_rows(db: aiosqlite.Connection, rows: list[Row], mark: tuple[str, str, Any] | None) -> int:
    """`append`'s whole transaction, run in the database thread in one go; returns the last row id.

    Awaiting each statement (begin, inserts, mark, last id, commit) was six trips to that thread per
    batch. Each trip makes the thread take the GIL back from a busy event loop, and while it waits,
    every GIL release on the loop's thread (any syscall) wakes it: ~2.3 futex calls per proxied request
    at 2,500 requests/s, where one trip per batch leaves ~0.35."""
    conn = db._conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        for i in range(0, len(rows), _APPEND_ROWS):
            chunk = rows[i : i + _APPEND_ROWS]
            conn.execute(_append_sql(len(chunk)), [v for row in chunk for v in row])
        if mark is not None:
            conn.execute(
                "INSERT OR REPLACE INTO kv (ns, key, value, expires) VALUES (?,?,?,NULL)",
                (mark[0], mark[1], orjson.dumps(mark[2])),
            )
        last = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(Exception):  # keep the original error, not a failed rollback's
            conn.execute("ROLLBACK")
        raise
    return int(last)


class SQLiteStore:
    def __init__(self, path: Path | str) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        self._db: aiosqlite.Connection | None = None
        # Writes share one connection with append()'s explicit transaction: serialise them, so a rollback
        # there can never undo another write that already reported success.
        self._write_lock = asyncio.Lock()
        self._last_purge = 0.0
        self._health = WriteHealth()
        self.trim_batch = _TRIM_BATCH
        self._channels = LocalChannels()

    async def open(self) -> None:
        if isinstance(self.path, Path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = await aiosqlite.connect(str(self.path), isolation_level=None)
        await self._db.execute("PRAGMA journal_mode=WAL")
        await self._db.execute("PRAGMA synchronous=NORMAL")
        await self._db.execute("PRAGMA busy_timeout=5000")  # several processes may share one file
        await self._db.executescript(_SCHEMA)
        await self._purge_expired(time.time())

    async def _purge_expired(self, now: float) -> None:
        """Expired keys are invisible to reads already; delete them so the file does not only grow."""
        await self.db.execute("DELETE FROM kv WHERE expires IS NOT NULL AND expires<=?", (now,))
        self._last_purge = now

    @contextlib.asynccontextmanager
    async def _writing(self) -> AsyncIterator[None]:
        """Hold the write lock for one write and remember whether it worked (see `writable`)."""
        async with self._write_lock:
            with self._health.track():
                yield

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("store is not open")
        return self._db

    async def get(self, ns: str, key: str) -> Any | None:
        async with self.db.execute(
            "SELECT value FROM kv WHERE ns=? AND key=? AND (expires IS NULL OR expires>?)", (ns, key, time.time())
        ) as cur:
            row = await cur.fetchone()
        return orjson.loads(row[0]) if row else None

    async def get_many(self, ns: str, keys: list[str]) -> dict[str, Any]:
        if not keys:
            return {}
        out: dict[str, Any] = {}
        now = time.time()
        for i in range(0, len(keys), 500):  # stay under SQLite's bound-parameter limit
            chunk = keys[i : i + 500]
            marks = ",".join("?" * len(chunk))
            async with self.db.execute(
                f"SELECT key, value FROM kv WHERE ns=? AND key IN ({marks}) AND (expires IS NULL OR expires>?)",
                (ns, *chunk, now),
            ) as cur:
                async for k, v in cur:
                    out[k] = orjson.loads(v)
        return out

    async def set(self, ns: str, key: str, value: Any, ttl: float | None = None) -> None:
        expires = time.time() + ttl if ttl else None
        async with self._writing():
            await self.db.execute(
                "INSERT OR REPLACE INTO kv (ns, key, value, expires) VALUES (?,?,?,?)",
                (ns, key, orjson.dumps(value), expires),
            )

    async def add(self, ns: str, key: str, value: Any, ttl: float | None = None) -> bool:
        now = time.time()
        expires = now + ttl if ttl else None
        # One statement, so two processes sharing the file cannot both win.
        async with self._writing():
            cur = await self.db.execute(
                "INSERT INTO kv (ns, key, value, expires) VALUES (?,?,?,?) "
                "ON CONFLICT (ns, key) DO UPDATE SET value=excluded.value, expires=excluded.expires "
                "WHERE kv.expires IS NOT NULL AND kv.expires<=?",
                (ns, key, orjson.dumps(value), expires, now),
            )
        return cur.rowcount == 1

    async def delete(self, ns: str, key: str) -> bool:
        async with self._writing():
            cur = await self.db.execute(
                "DELETE FROM kv WHERE ns=? AND key=? AND (expires IS NULL OR expires>?)", (ns, key, time.time())
            )
        return cur.rowcount > 0

    async def keys(self, ns: str, prefix: str = "") -> list[str]:
        async with self.db.execute(
            "SELECT key FROM kv WHERE ns=? AND key >= ? AND key < ? AND (expires IS NULL OR expires>?) ORDER BY key",
            (ns, prefix, prefix + "\U0010ffff", time.time()),
        ) as cur:
            return [r[0] async for r in cur]

    async def incr(self, ns: str, key: str, amount: float = 1, ttl: float | None = None) -> float:
        now = time.time()
        expires = now + ttl if ttl else None
        async with (
            self._writing(),
            self.db.execute(
                "INSERT INTO kv (ns, key, value, expires) VALUES (?,?,?,?) "
                "ON CONFLICT (ns, key) DO UPDATE SET "
                "value = CASE WHEN kv.expires IS NOT NULL AND kv.expires<=? THEN excluded.value "
                "             ELSE CAST(CAST(CAST(kv.value AS TEXT) AS REAL) + ? AS TEXT) END, "  # stays JSON text
                "expires = CASE WHEN kv.expires IS NOT NULL AND kv.expires<=? THEN excluded.expires ELSE kv.expires END "
                "RETURNING value",
                (ns, key, orjson.dumps(amount), expires, now, amount, now),
            ) as cur,
        ):
            row = await cur.fetchone()
        assert row is not None
        value = row[0]
        return float(value if isinstance(value, (int, float)) else orjson.loads(value))

    async def append(
        self, stream: str, records: Sequence[Mapping[str, Any]], mark: tuple[str, str, Any] | None = None
    ) -> list[str]:
        if not records:
            return []
        now = time.time()
        rows = [(stream, now, orjson.dumps(rec)) for rec in records]
        async with self._writing():
            if now - self._last_purge > _PURGE_EVERY:
                await self._purge_expired(now)
            # aiosqlite has no public call for "run this in your thread"; _execute is what its own methods use.
            last: int = await self.db._execute(_append_rows, self.db, rows, mark)
        first = last - len(rows) + 1  # AUTOINCREMENT ids of one transaction are consecutive
        return [f"{i:020d}" for i in range(first, last + 1)]

    async def read(self, stream: str, after: str | None = None, limit: int = 1000) -> list[tuple[str, dict[str, Any]]]:
        async with self.db.execute(
            "SELECT id, record FROM log WHERE stream=? AND id>? ORDER BY id LIMIT ?",
            (stream, int(after) if after else 0, limit),
        ) as cur:
            return [(f"{i:020d}", orjson.loads(r)) async for i, r in cur]

    async def trim(self, stream: str, *, before: float | None = None, keep_last: int | None = None) -> int:
        last = max(await self._last_id_before(stream, before), await self._last_id_beyond(stream, keep_last))
        removed = 0
        while last > 0:  # ids and append times grow together: delete everything up to one id, in batches
            async with self._writing():
                cur = await self.db.execute(_TRIM_SQL, (stream, last, self.trim_batch))
            removed += cur.rowcount
            if cur.rowcount < self.trim_batch:
                break
        return removed

    async def _last_id_before(self, stream: str, before: float | None) -> int:
        if before is None:
            return 0
        sql = "SELECT id FROM log WHERE stream=? AND ts<? ORDER BY ts DESC, id DESC LIMIT 1"
        async with self.db.execute(sql, (stream, before)) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def _last_id_beyond(self, stream: str, keep_last: int | None) -> int:
        if keep_last is None:
            return 0
        sql = "SELECT id FROM log WHERE stream=? ORDER BY id DESC LIMIT 1 OFFSET ?"
        async with self.db.execute(sql, (stream, keep_last)) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def index_put(self, index: str, members: Mapping[str, float]) -> None:
        if not members:
            return
        async with self._writing():
            await self.db.executemany(_INDEX_PUT, [(index, m, score) for m, score in members.items()])

    async def index_drop(self, index: str, members: Sequence[str]) -> int:
        if not members:
            return 0
        async with self._writing():
            cur = await self.db.executemany("DELETE FROM idx WHERE name=? AND member=?", [(index, m) for m in members])
        return cur.rowcount

    async def index_drop_below(self, index: str, score: float) -> int:
        async with self._writing():
            cur = await self.db.execute("DELETE FROM idx WHERE name=? AND score<?", (index, score))
        return cur.rowcount

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
        order = "DESC" if descending else "ASC"
        sql = (
            "SELECT member, score FROM idx WHERE name=? AND score>=? AND score<=? "
            f"ORDER BY score {order}, member {order} LIMIT ? OFFSET ?"
        )
        bounds = (-math.inf if lo is None else lo, math.inf if hi is None else hi)
        async with self.db.execute(sql, (index, *bounds, -1 if limit is None else limit, offset)) as cur:
            return [(m, float(score)) async for m, score in cur]

    async def index_count(self, index: str) -> int:
        async with self.db.execute("SELECT n FROM idx_size WHERE name=?", (index,)) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def publish(self, channel: str, message: str) -> None:
        self._channels.publish(channel, message)

    def subscribe(self, channel: str) -> AsyncIterator[str | None]:
        return self._channels.subscribe(channel)

    async def ping(self) -> bool:
        async with self.db.execute("SELECT 1") as cur:
            return (await cur.fetchone()) == (1,)

    async def writable(self) -> bool:
        if self._health.recently_failed():
            return False
        # A probe that needs fresh pages, rolled into one transaction with its own removal: it fails
        # the way audit writes do when the disk (or the database's page limit) is full.
        probe = (store_keys.HEALTH, store_keys.WRITABLE_PROBE)
        async with self._write_lock:
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                await self.db.execute(
                    "INSERT OR REPLACE INTO kv (ns, key, value, expires) VALUES (?,?,?,NULL)",
                    (*probe, b"0" * PROBE_BYTES),
                )
                await self.db.execute("DELETE FROM kv WHERE ns=? AND key=?", probe)
                await self.db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(Exception):
                    await self.db.execute("ROLLBACK")
                raise
        return True

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None
