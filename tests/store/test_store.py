import asyncio
import time

import pytest

from llmvet.store.sqlite_store import SQLiteStore


async def test_get_set_delete_roundtrip(store):
    assert await store.get("cache", "a") is None
    await store.set("cache", "a", {"x": [1, 2], "ok": True})
    assert await store.get("cache", "a") == {"x": [1, 2], "ok": True}
    assert await store.get_many("cache", ["a", "missing"]) == {"a": {"x": [1, 2], "ok": True}}
    assert await store.delete("cache", "a") is True
    assert await store.delete("cache", "a") is False
    assert await store.get("cache", "a") is None


async def test_ttl_expires(store):
    await store.set("cache", "short", 1, ttl=0.2)
    await store.set("cache", "long", 2, ttl=60)
    assert await store.get("cache", "short") == 1
    await asyncio.sleep(0.35)
    assert await store.get("cache", "short") is None
    assert await store.get("cache", "long") == 2


async def test_add_only_when_absent_or_expired(store):
    assert await store.add("lease", "item1", "alice", ttl=0.2) is True
    assert await store.add("lease", "item1", "bob", ttl=0.2) is False
    assert await store.get("lease", "item1") == "alice"
    await asyncio.sleep(0.35)
    assert await store.add("lease", "item1", "bob", ttl=5) is True
    assert await store.get("lease", "item1") == "bob"


async def test_add_is_atomic_under_concurrency(store):
    results = await asyncio.gather(*(store.add("lease", "race", i, ttl=10) for i in range(20)))
    assert results.count(True) == 1


async def test_keys_by_prefix(store):
    for k in ["q:1", "q:2", "r:1"]:
        await store.set("items", k, k)
    assert await store.keys("items", "q:") == ["q:1", "q:2"]
    assert await store.keys("items") == ["q:1", "q:2", "r:1"]


async def test_counters_with_ttl(store):
    assert await store.incr("budget", "key1", 5, ttl=60) == 5
    assert await store.incr("budget", "key1", 2.5, ttl=60) == 7.5
    assert await store.get("budget", "key1") == 7.5  # a counter reads back like any value
    await store.incr("budget", "short", 1, ttl=0.2)
    await asyncio.sleep(0.35)
    assert await store.incr("budget", "short", 1, ttl=0.2) == 1


async def test_append_only_log_reads_in_order_after_cursor(store):
    ids = await store.append("audit", [{"n": i} for i in range(5)])
    assert ids == sorted(ids) and len(set(ids)) == 5
    rows = await store.read("audit")
    assert [r["n"] for _, r in rows] == [0, 1, 2, 3, 4]
    rows = await store.read("audit", after=ids[1], limit=2)
    assert [r["n"] for _, r in rows] == [2, 3]
    assert await store.read("other") == []


async def test_append_of_a_big_batch_keeps_every_record_in_order_with_its_id(store):
    # More records than one SQLite INSERT statement takes (it writes them in chunks of rows).
    await store.append("audit", [{"n": -1}])
    ids = await store.append("audit", [{"n": i, "s": "x" * (i % 7)} for i in range(600)], ("journal", "tok", 600))
    assert len(ids) == len(set(ids)) == 600 and ids == sorted(ids)
    rows = await store.read("audit", limit=1000)
    assert [r["n"] for _, r in rows] == [-1, *range(600)]
    assert [i for i, _ in rows[1:]] == ids  # the ids given back are the ones the records are read under
    assert rows[-1][1] == {"n": 599, "s": "x" * (599 % 7)}
    assert await store.get("journal", "tok") == 600


async def test_ping(store):
    assert await store.ping() is True


@pytest.mark.parametrize("bad", ["sqlite:////proc/nope/llmvet.db"])
async def test_unusable_sqlite_path_raises(bad):
    from llmvet.store import open_store

    with pytest.raises(OSError):
        await open_store(bad)


async def test_key_prefixes_are_literal_not_globs(store):
    for k in ["team[1]/pypi/a", "team1/pypi/b", "a*b/npm/c", "axb/npm/d"]:
        await store.set("allowlist", k, k)
    assert await store.keys("allowlist", "team[1]/") == ["team[1]/pypi/a"]
    assert await store.keys("allowlist", "a*b/") == ["a*b/npm/c"]


async def test_sqlite_deletes_expired_keys_on_open(tmp_path):
    import sqlite3

    from llmvet.store import open_store

    url = f"sqlite:///{tmp_path / 'purge.db'}"
    s = await open_store(url)
    await s.set("cache", "short", 1, ttl=0.1)
    await s.set("cache", "kept", 2)
    await s.close()
    await asyncio.sleep(0.2)
    s = await open_store(url)
    await s.close()
    rows = sqlite3.connect(tmp_path / "purge.db").execute("SELECT key FROM kv").fetchall()
    assert rows == [("kept",)]


async def test_trim_by_age_then_by_count(store):
    await store.append("audit", [{"n": i} for i in range(3)])
    await store.append("other", [{"n": 0}])
    await asyncio.sleep(0.05)
    cut = time.time()  # the first three are older than this, the rest newer
    await asyncio.sleep(0.05)
    await store.append("audit", [{"n": i} for i in range(3, 8)])
    assert await store.trim("audit", before=cut) == 3
    assert [r["n"] for _, r in await store.read("audit")] == [3, 4, 5, 6, 7]
    assert await store.trim("audit", before=cut) == 0  # nothing older left
    assert await store.trim("audit", keep_last=2) == 3
    assert [r["n"] for _, r in await store.read("audit")] == [6, 7]
    assert await store.trim("audit", keep_last=5) == 0
    assert [r["n"] for _, r in await store.read("other")] == [0]  # another stream is left alone
    ids = await store.append("audit", [{"n": 8}])  # appending after a trim still gives increasing ids
    assert [i for i, _ in await store.read("audit")][-1] == ids[0]


async def test_sqlite_trims_in_batches(tmp_path):
    s = SQLiteStore(tmp_path / "t.db")
    await s.open()
    try:
        s.trim_batch = 4  # 10 rows to delete: batches of 4, 4, 2
        await s.append("audit", [{"n": i} for i in range(11)])
        assert await s.trim("audit", keep_last=1) == 10
        assert [r["n"] for _, r in await s.read("audit")] == [10]
    finally:
        await s.close()
