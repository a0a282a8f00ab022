"""Sorted indexes and wake-up channels, the same on SQLite and a real redis-server."""

from __future__ import annotations

import asyncio
import contextlib

import pytest


async def test_index_orders_pages_and_counts(store):
    await store.index_put("q", {"c": 3.0, "a": 1.0, "b": 2.0, "d": 4.5})
    assert await store.index_count("q") == 4
    assert await store.index_range("q") == [("a", 1.0), ("b", 2.0), ("c", 3.0), ("d", 4.5)]
    assert await store.index_range("q", descending=True, limit=2) == [("d", 4.5), ("c", 3.0)]
    assert await store.index_range("q", descending=True, offset=2, limit=1) == [("b", 2.0)]
    assert await store.index_range("q", lo=2.0, hi=3.0) == [("b", 2.0), ("c", 3.0)]
    assert await store.index_range("other") == [] and await store.index_count("other") == 0


async def test_index_put_moves_a_member_without_counting_it_twice(store):
    await store.index_put("q", {"a": 1.0})
    await store.index_put("q", {"a": 9.0})
    assert await store.index_range("q") == [("a", 9.0)]
    assert await store.index_count("q") == 1


async def test_index_drop_and_drop_below_keep_the_count_right(store):
    await store.index_put("q", {f"m{i}": float(i) for i in range(10)})
    await store.index_put("other", {"m1": 1.0})
    assert await store.index_drop("q", ["m1", "m2", "absent"]) == 2
    assert await store.index_drop_below("q", 5.0) == 3  # m0, m3, m4
    assert [m for m, _ in await store.index_range("q")] == ["m5", "m6", "m7", "m8", "m9"]
    assert await store.index_count("q") == 5
    assert await store.index_count("other") == 1  # another index is untouched


async def test_a_published_message_reaches_every_subscriber(store):
    async def first_two(out: list, ready: asyncio.Event) -> None:
        async for msg in store.subscribe("wake"):
            if msg is None:
                ready.set()
                continue
            out.append(msg)
            if len(out) == 2:
                return

    got_a: list[str] = []
    got_b: list[str] = []
    ready_a, ready_b = asyncio.Event(), asyncio.Event()
    tasks = [asyncio.create_task(first_two(got_a, ready_a)), asyncio.create_task(first_two(got_b, ready_b))]
    await asyncio.wait_for(asyncio.gather(ready_a.wait(), ready_b.wait()), 5)
    await store.publish("elsewhere", "not for us")
    await store.publish("wake", "rev_1")
    await store.publish("wake", "rev_2")
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert got_a == got_b == ["rev_1", "rev_2"]


async def test_redis_subscription_comes_back_after_the_connection_is_killed(redis_url):
    from llmvet.store import open_store

    sub, pub = await open_store(redis_url), await open_store(redis_url)
    seen: list[str | None] = []
    again = asyncio.Event()

    async def listen() -> None:
        async for msg in sub.subscribe("wake"):
            seen.append(msg)
            if seen.count(None) == 2:
                again.set()

    task = asyncio.create_task(listen())
    try:
        while None not in seen:
            await asyncio.sleep(0.01)
        await pub.redis.client_kill_filter(_type="pubsub")  # the subscriber's connection drops
        await asyncio.wait_for(again.wait(), 10)  # a second None: "you may have missed messages"
        for _ in range(100):  # until the new subscription is registered on the server
            if await pub.redis.publish("llmvet:chan:wake", b"after") > 0:
                break
            await asyncio.sleep(0.05)
        for _ in range(100):
            if "after" in seen:
                break
            await asyncio.sleep(0.05)
        assert "after" in seen
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await sub.close()
        await pub.close()


@pytest.mark.parametrize("n", [2000])
async def test_sqlite_count_is_kept_by_triggers_across_reopen(tmp_path, n):
    from llmvet.store.sqlite_store import SQLiteStore

    s = SQLiteStore(tmp_path / "x.db")
    await s.open()
    await s.index_put("q", {f"m{i}": float(i) for i in range(n)})
    await s.index_drop_below("q", 500.0)
    await s.close()
    s = SQLiteStore(tmp_path / "x.db")
    await s.open()
    async with s.db.execute("SELECT count(*) FROM idx WHERE name='q'") as cur:
        walked = (await cur.fetchone())[0]
    assert await s.index_count("q") == walked == n - 500
    await s.close()
