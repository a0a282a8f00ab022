"""A store that answers but cannot write is not ready, and its failures do not flood the log."""

import asyncio
import contextlib
import logging
import sqlite3

import httpx

from llmvet.audit import AuditLog
from llmvet.store.sqlite_store import SQLiteStore


async def _sqlite_limit(store: SQLiteStore, pages: int | None) -> None:
    """SQLite's page limit: past it, writes fail with SQLITE_FULL, as on a full disk. With None, the
    file is capped at its size and its free pages filled (straight SQL, not through the store)."""
    if pages is not None:
        await store.db.execute(f"PRAGMA max_page_count = {pages}")
        await store.db.execute("DELETE FROM kv WHERE ns='test-filler'")
        return
    async with store.db.execute("PRAGMA page_count") as cur:
        (count,) = await cur.fetchone()  # type: ignore[misc]
    await store.db.execute(f"PRAGMA max_page_count = {count}")
    for i in range(10_000):
        try:
            await store.db.execute("INSERT INTO kv VALUES ('test-filler', ?, ?, NULL)", (str(i), b"f" * 1000))
        except sqlite3.OperationalError as exc:
            assert "full" in str(exc)
            return
    raise AssertionError("the capped file never filled")


@contextlib.asynccontextmanager
async def full(store):
    """Make the store refuse writes the way a full disk (SQLite) or a full Redis (maxmemory) does."""
    if isinstance(store, SQLiteStore):
        await _sqlite_limit(store, None)
        try:
            yield
        finally:
            await _sqlite_limit(store, 1_073_741_823)
    else:
        await store.redis.config_set("maxmemory", "1")  # noeviction (the default): writes get OOM
        try:
            yield
        finally:
            await store.redis.config_set("maxmemory", "0")


async def test_a_full_store_is_not_writable_until_it_has_room_again(store):
    assert await store.writable() is True
    async with full(store):
        assert await _refuses(store)
        # A real write that failed keeps it not ready, probe or not.
        try:
            await store.append("audit", [{"blob": "x" * 100_000}])
            raise AssertionError("the full store accepted 100 KB")
        except Exception:
            pass
        assert await store.writable() is False
    await store.append("audit", [{"n": 1}])  # room again: a real write works and clears the failure
    assert await store.writable() is True
    assert await store.get("health", "writable-probe") is None  # the probe leaves nothing behind


async def _refuses(store) -> bool:
    try:
        return await store.writable() is False
    except Exception:  # the backend's own error says why (e.g. "database or disk is full")
        return True


async def test_audit_writer_logs_a_failing_store_once_not_every_retry(tmp_path, caplog):
    store = SQLiteStore(tmp_path / "audit.db")
    await store.open()
    audit = AuditLog(store, interval=0.01)  # a retry every 10 ms if it did not back off
    try:
        async with full(store):
            audit.start()
            with caplog.at_level(logging.WARNING, logger="llmvet.audit"):
                for i in range(20):
                    audit.record({"request_id": f"r{i}", "action": "allow", "pad": "x" * 20_000})  # type: ignore[typeddict-unknown-key]
                await asyncio.sleep(1.5)
                errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
                assert len(errors) == 1 and errors[0].exc_info is not None  # one traceback, not 150
                assert "20 records kept for retry" in errors[0].getMessage()
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="llmvet.audit"):
            for _ in range(100):  # the next retry (backed off, at most 5 s) writes them, then says so
                rows = await store.read("audit")
                if len(rows) == 20 and any("works again" in r.getMessage() for r in caplog.records):
                    break
                await asyncio.sleep(0.1)
        assert [r["request_id"] for _, r in rows] == [f"r{i}" for i in range(20)]
        assert any("works again" in r.getMessage() for r in caplog.records)
    finally:
        await audit.close()
        await store.close()


def test_readyz_reports_a_store_that_cannot_write(make_proxy):
    proxy = make_proxy()
    assert httpx.get(proxy.url + "/readyz").json()["store"] == "ok"
    store = proxy.proxy.rt.resources.store
    loop = proxy.proxy.loop

    def on_server(coro):
        return asyncio.run_coroutine_threadsafe(coro, loop).result(10)

    on_server(_sqlite_limit(store, None))
    try:
        r = httpx.get(proxy.url + "/readyz")
        assert r.status_code == 503
        assert r.json()["status"] == "not ready" and r.json()["store"].startswith("down")
        assert httpx.get(proxy.url + "/healthz").status_code == 200  # alive, just not ready
    finally:
        on_server(_sqlite_limit(store, 1_073_741_823))
    r = httpx.get(proxy.url + "/readyz")
    assert r.status_code == 200 and r.json()["store"] == "ok"
