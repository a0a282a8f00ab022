#!/usr/bin/env python
"""Decision -> held client latency on another replica: Redis pub/sub wake-ups against polling the
store every 0.2 s (the previous default), in the same run, with real `llmvet serve` processes on one
real redis-server; plus the same replica on SQLite (the in-process event).

A request is held on replica A; a reviewer approves it through replica B; the time runs from the
approve call being sent to the held client's answer arriving. Run from the repo root:
python benchmarks/review_latency.py [--n 20]"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.support
import httpx

from tests.review.test_processes import MSG, Serve
from tests.support.fake_upstream import FakeUpstream, Reply
from tests.support.review_helpers import ANSWER, InThread, add_reviewer, policy, wait_for_item
from tests.support.servers import ThreadedServer, redis_server

MODES = {
    "pub/sub (default: wake-ups, 2 s fallback poll)": {},
    "polling every 0.2 s (no wake-ups)": {"LLMVET_REVIEW_WAKE_UPS": "false", "LLMVET_REVIEW_POLL_INTERVAL": "0.2"},
}


def measure(
    upstream: str, store: str, env: dict[str, str], n: int, tmp: Path, other_replica: bool
) -> tuple[list[float], list[float]]:
    pol = tmp / "policy.yaml"
    pol.write_text(policy(timeout=120))
    a = Serve(upstream, pol, store, tmp / "a.log", env=env)
    b = Serve(upstream, pol, store, tmp / "b.log", env=env) if other_replica else a
    try:
        a.ready(), b.ready()
        token = add_reviewer(store, f"bench{time.monotonic_ns()}")
        client = a.client()
        auth = {"Authorization": f"Bearer {token}"}
        from_call, from_decision, seen = [], [], set()
        for _ in range(n):
            call = InThread(lambda: (client.chat.completions.create(model="m", messages=MSG), time.time()))
            item = wait_for_item(b.url, token, exclude=seen)
            seen.add(item["id"])
            time.sleep(0.3)  # the request is waiting, not just queued
            sent = time.time()
            r = httpx.post(f"{b.url}/llmvet/v1/reviews/{item['id']}/approve", headers=auth)
            assert r.status_code == 200, r.text
            answer, received = call.result()
            assert answer.choices[0].message.content == ANSWER
            decided_at = httpx.get(f"{b.url}/llmvet/v1/reviews/{item['id']}", headers=auth).json()["decision"]["at"]
            from_call.append((received - sent) * 1000)
            from_decision.append((received - decided_at) * 1000)  # one machine, one clock
        return from_call, from_decision
    finally:
        for s in {id(a): a, id(b): b}.values():
            s.stop()


def line(label: str, ms: list[float]) -> str:
    q = statistics.quantiles(ms, n=10)
    return (
        f"{label:58s} median {statistics.median(ms):7.1f} ms  p90 {q[-1]:7.1f} ms  max {max(ms):7.1f} ms  (n={len(ms)})"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20)
    args = ap.parse_args()
    fake = FakeUpstream()
    fake.reset(lambda b: Reply(text=ANSWER))
    print("decision on replica B -> answer of the request held on replica A (2 llmvet serve, 1 redis-server)")
    print("shared 2-core machine: absolute numbers are noisy, compare within this run")
    with ThreadedServer(fake.app()) as up, redis_server() as redis_url, tempfile.TemporaryDirectory() as d:
        medians = {}
        for label, env in MODES.items():
            from_call, from_decision = measure(up.url + "/v1", redis_url, env, args.n, Path(d), other_replica=True)
            medians[label] = statistics.median(from_decision)
            print(line(f"{label}, decision recorded ->", from_decision))
            print(line(f"{label}, approve call sent ->", from_call))
        pubsub, polling = medians.values()
        print(f"ratio polling / pub/sub (medians, from the decision): {polling / pubsub:.1f}x")
        same = measure(up.url + "/v1", f"sqlite:///{d}/same.db", {}, args.n, Path(d), other_replica=False)
        print(line("same replica, SQLite (in-process event), decision recorded ->", same[1]))


if __name__ == "__main__":
    main()
