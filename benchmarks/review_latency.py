#!/usr/bin/env python
"""Review queue figures: decision -> held client latency (same replica vs another replica), and
the cost of listing the queue as it grows (SQLite and Redis). Run from the repo root: python benchmarks/review_latency.py"""

import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.support
import httpx
import openai

from llmvet.config import Settings
from llmvet.policy.loader import parse_policy
from llmvet.proxy.app import create_app
from llmvet.review.queue import ReviewQueue
from llmvet.store import open_store
from tests.support.fake_upstream import FakeUpstream, Reply
from tests.support.review_helpers import ANSWER, InThread, add_reviewer, policy, wait_for_item
from tests.support.servers import ThreadedServer, redis_server

MSG = [{"role": "user", "content": "q"}]
fake = FakeUpstream()
fake.reset(lambda b: Reply(text=ANSWER))


def latency(store_url, n=15):
    with ThreadedServer(fake.app()) as up:
        pol = parse_policy(policy(timeout=60), "p.yaml")
        a_app = create_app(Settings(upstream=up.url + "/v1", store=store_url), pol)
        b_app = create_app(Settings(upstream=up.url + "/v1", store=store_url), pol)
        with ThreadedServer(a_app) as a, ThreadedServer(b_app) as b:
            tok = add_reviewer(store_url, "bench")
            client = openai.OpenAI(base_url=a.url + "/v1", api_key="sk", max_retries=0)
            out = {}
            for label, via in (("same replica", a), ("other replica", b)):
                lat = []
                for _ in range(n):
                    call = InThread(lambda: client.chat.completions.create(model="m", messages=MSG))
                    item = wait_for_item(a.url, tok)
                    t0 = time.perf_counter()
                    httpx.post(
                        f"{via.url}/llmvet/v1/reviews/{item['id']}/approve", headers={"Authorization": f"Bearer {tok}"}
                    )
                    call.result()
                    lat.append((time.perf_counter() - t0) * 1000)
                out[label] = lat
            return out


async def listing(store_url, sizes=(100, 1000)):
    store = await open_store(store_url)
    if store_url.startswith("redis"):
        await store.redis.flushdb()
    q = ReviewQueue(store)
    res = {}
    have = 0
    for size in sizes:
        item = {
            "request_id": "r",
            "mode": "hold",
            "rule": "r",
            "model": "m",
            "route": "chat.completions",
            "answer": {"text": ANSWER * 4},
            "findings": [{"validator": "regex", "span": [1, 5]}] * 3,
            "conversation": [{"role": "user", "content": "q" * 500}],
        }
        while have < size:
            await q.enqueue(dict(item))
            have += 1
        t = []
        for _ in range(5):
            t0 = time.perf_counter()
            await q.items()
            t.append((time.perf_counter() - t0) * 1000)
        res[size] = statistics.median(t)
    await store.close()
    return res


if __name__ == "__main__":
    os.environ["LLMVET_REVIEW_POLL_INTERVAL"] = "0.2"  # the default
    import tempfile

    d = tempfile.mkdtemp()
    lat = latency(f"sqlite:///{d}/lat.db")
    for k, v in lat.items():
        print(
            f"decision -> held client returns ({k}, SQLite, poll 0.2 s): median {statistics.median(v):.1f} ms, max {max(v):.1f} ms (n={len(v)})"
        )
    with redis_server() as r:
        lat = latency(r)
        for k, v in lat.items():
            print(
                f"decision -> held client returns ({k}, Redis, poll 0.2 s): median {statistics.median(v):.1f} ms, max {max(v):.1f} ms (n={len(v)})"
            )
        for name, url in (("SQLite", f"sqlite:///{d}/list.db"), ("Redis", r)):
            for size, ms in asyncio.run(listing(url)).items():
                print(f"queue.items() with {size} items ({name}): median {ms:.1f} ms")
