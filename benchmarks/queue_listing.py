#!/usr/bin/env python
"""Queue listing and counting as the history grows: 1,000 then 1,000,000 decided items, with 50 pending,
on SQLite and on a real redis-server, in one run.

Measured, medians of interleaved rounds: the reviewer's queue page (pending items + counts, `listing.view`), one page
of the history (100 newest decided), the per-status counts, and, at 1k and 10k only, the older layout's
way (every key, every item loaded) for comparison. The decided items are written in bulk (Redis
pipelines, SQLite executemany) in the queue's own layout (store/keys.py): what 1M decisions leave.
Run from the repo root: python benchmarks/queue_listing.py [--big 1000000]"""

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.support
import orjson

from llmvet.review import listing
from llmvet.review.queue import ReviewQueue
from llmvet.store import keys, open_store
from tests.support.servers import redis_server

PENDING = 50
BATCH = 5000
KEEP = 30 * 86400


def item(i: int, created: float) -> dict:
    """A realistic queue item: a short conversation, a ~1 KB answer, three findings."""
    return {
        "id": f"rev_{int(created * 1000):011x}{i:024x}",
        "created": created,
        "status": "pending",
        "request_id": f"req_{i}",
        "mode": "hold",
        "timeout": 300.0,
        "on_timeout": "block",
        "deadline": created + 300,
        "policy": "bench",
        "policy_version": "abc123",
        "rule": f"rule-{i % 5}",
        "route": "chat.completions",
        "model": f"model-{i % 3}",
        "stream": False,
        "key": "0123456789ab",
        "key_label": None,
        "conversation": [{"role": "user", "content": "How do I vectorize a dataframe column? " * 5}],
        "request_sha256": "0" * 64,
        "answer": {"text": "Install it with `pip install dataframe-vectorizer-pro` and call it. " * 15},
        "response_sha256": "1" * 64,
        "validators": [{"validator": "packages", "status": "failed"}],
        "findings": [{"validator": "packages", "code": "packages.unknown", "span": [17, 41]}] * 3,
        "summary": "packages: 1 unknown package",
        "validator_names": ["packages"],
    }


def decided_rows(start: int, n: int, now: float):
    for i in range(start, start + n):
        at = now - KEEP / 2 + i * 1e-3
        it = item(i, at - 60)
        final = {"outcome": ("approved", "rejected", "edited")[i % 3], "reviewer": "r", "reason": "x", "at": at}
        if final["outcome"] == "edited":
            final["text"] = "fixed"
        it["status"], it["decision"] = final["outcome"], final
        yield it["id"], orjson.dumps(it), orjson.dumps(final), final["outcome"], at


async def fill(store, start: int, n: int, now: float) -> None:
    """Write n decided items the way the queue leaves them (item, outcome, indexes), in bulk."""
    rows = list(decided_rows(start, n, now))
    if hasattr(store, "redis"):
        async with store.redis.pipeline(transaction=False) as pipe:
            for rid, blob, final, outcome, at in rows:
                pipe.set(store._k(keys.REVIEW_ITEMS, rid), blob, px=KEEP * 1000)
                pipe.set(store._k(keys.REVIEW_FINALS, rid), final, px=KEEP * 1000)
                pipe.zadd(store._k("idx", keys.REVIEW_DECIDED), {rid: at})
                pipe.zadd(store._k("idx", keys.review_outcome_index(outcome)), {rid: at})
            await pipe.execute()
        return
    db, expires = store.db, now + KEEP
    await db.execute("BEGIN")
    await db.executemany(
        "INSERT INTO kv (ns, key, value, expires) VALUES (?,?,?,?)",
        [
            (ns, rid, v, expires)
            for rid, blob, final, _, _ in rows
            for ns, v in ((keys.REVIEW_ITEMS, blob), (keys.REVIEW_FINALS, final))
        ],
    )
    await db.executemany(
        "INSERT INTO idx (name, member, score) VALUES (?,?,?)",
        [
            (name, rid, at)
            for rid, _, _, outcome, at in rows
            for name in (keys.REVIEW_DECIDED, keys.review_outcome_index(outcome))
        ],
    )
    await db.execute("COMMIT")


async def old_way(store) -> None:
    """The older layout's listing: every key of the namespace, every item and outcome loaded."""
    ids = await store.keys(keys.REVIEW_ITEMS)
    await store.get_many(keys.REVIEW_ITEMS, ids)
    await store.get_many(keys.REVIEW_FINALS, ids)


async def prepared(url: str, decided: int) -> tuple:
    """A store holding PENDING pending items and `decided` decided ones, and its queue."""
    store = await open_store(url)
    if hasattr(store, "redis"):
        await store.redis.flushdb()
    q = ReviewQueue(store)
    now = time.time()
    for i in range(PENDING):
        await q.enqueue(item(10**9 + i, now - 600 + i))
    t0, have = time.perf_counter(), 0
    while have < decided:
        n = min(BATCH, decided - have)
        await fill(store, have, n, now)
        have += n
    page = await listing.view(q, listing.Filters.from_query({}), 500, same)
    assert len(page.items) == PENDING and sum(page.counts["status"].values()) == decided + PENDING, page.counts
    print(f"  {decided:>9,} decided written in {time.perf_counter() - t0:.0f} s", flush=True)
    return store, q


async def same(x):
    return x


def operations(store, q, with_old: bool) -> dict:
    ops = {
        "queue page": lambda: listing.view(q, listing.Filters.from_query({}), 500, same),
        "history page": lambda: listing.view(q, listing.Filters.from_query({"status": "decided"}), 100, same),
        "counts": q.counts,
    }
    if with_old:
        ops["older layout (all items)"] = lambda: old_way(store)
    return ops


async def bench(urls: dict[int, str], rounds: int) -> dict[int, dict[str, float]]:
    """Every operation on every store size, interleaved round by round (load on a shared machine
    then weighs on every size alike); medians per (size, operation)."""
    stores = {size: await prepared(url, size) for size, url in urls.items()}
    ops = {size: operations(*sq, with_old=size <= 10_000) for size, sq in stores.items()}
    times: dict[int, dict[str, list[float]]] = {size: {name: [] for name in o} for size, o in ops.items()}
    for r in range(rounds + 1):  # round 0 warms caches and connections, not counted
        for size, o in ops.items():
            for name, fn in o.items():
                if name.startswith("older") and r > 3:
                    continue  # slow and only for comparison: 3 rounds
                t0 = time.perf_counter()
                await fn()
                if r:
                    times[size][name].append((time.perf_counter() - t0) * 1000)
    for store, _ in stores.values():
        await store.close()
    return {size: {name: statistics.median(v) for name, v in t.items()} for size, t in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--big", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=21)
    args = ap.parse_args()
    sizes = (1000, 10_000, args.big)
    print(f"review queue with {PENDING} pending items; medians of {args.rounds} interleaved rounds (older layout: 3)")
    print("shared 2-core machine: absolute numbers are noisy, compare within this run")
    with tempfile.TemporaryDirectory() as d, redis_server() as redis_url:
        base = redis_url.rsplit("/", 1)[0]
        for name, urls in (
            ("SQLite", {n: f"sqlite:///{d}/q{n}.db" for n in sizes}),
            ("Redis", {n: f"{base}/{i}" for i, n in enumerate(sizes)}),  # one database per size
        ):
            print(name)
            res = asyncio.run(bench(urls, args.rounds))
            for size, r in res.items():
                print(f"  {size:>9,} decided: " + "  ".join(f"{k} {v:.2f} ms" for k, v in r.items()))
            small, big = res[1000], res[args.big]
            for what in ("queue page", "history page", "counts"):
                print(f"  {what}: {args.big:,} / 1,000 decided = {big[what] / small[what]:.2f}x")
            old = res[10_000]["older layout (all items)"] / res[1000]["older layout (all items)"]
            print(f"  older layout: 10,000 / 1,000 decided = {old:.2f}x")


if __name__ == "__main__":
    main()
