"""Two `llmvet serve` replicas on one real Redis converge on a reloaded policy, under traffic.

One replica reloads on SIGHUP, the other through the admin endpoint, while the openai SDK keeps
sending to both: no request fails, each response names the version that decided it (and decides
as that version does), and every replica's /readyz shows the others' versions until they agree.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import openai
import pytest

from tests.support.fake_upstream import Reply
from tests.support.metrics import metric_value, parse_metrics
from tests.support.review_helpers import read_audit, run_async
from tests.support.servers import free_port, wait_port

TOKEN = "replica-admin-token"
POLICY = """\
name: fleet
rules:
  - name: secrets
    validators: [{{use: regex, with: {{must_not_match: ["{pattern}"]}}}}]
    on_fail: annotate
"""
V1, V2 = POLICY.format(pattern="SECRET"), POLICY.format(pattern="NEVER-SEEN")
LEAK = "the SECRET is out"


def version(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def served(text: str) -> str:
    return f"fleet@{version(text)}"


DECIDES = {served(V1): "annotate", served(V2): "allow"}  # what each version does with LEAK


def wait_until(check: Callable[[], bool], timeout: float = 15.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def responses_audited(store_url: str) -> dict[str, str]:
    """request id -> the policy version of its audit record, over the whole stream (paged)."""
    from llmvet.store import open_store

    async def go() -> dict[str, str]:
        store = await open_store(store_url)
        out, after = {}, None
        try:
            while batch := await store.read("audit", after, 1000):
                out.update({r["request_id"]: f"fleet@{r['policy_version']}" for _, r in batch if not r.get("kind")})
                after = batch[-1][0]
        finally:
            await store.close()
        return out

    return run_async(go())


def ready(url: str) -> dict:
    return httpx.get(url + "/readyz", timeout=5).json()


@contextmanager
def start_fleet(text: str, redis_url: str, upstream: str, tmp_path: Path, **env: str):
    """Two `llmvet serve` processes on one redis (flushed first), serving the policy file `text`."""
    from llmvet.store import open_store

    async def flush() -> None:
        store = await open_store(redis_url)
        await store.redis.flushdb()  # type: ignore[attr-defined]
        await store.close()

    run_async(flush())
    policy = tmp_path / "policy.yaml"
    policy.write_text(text)
    env = {
        **os.environ,
        "LLMVET_UPSTREAM": upstream,
        "LLMVET_STORE": redis_url,
        "LLMVET_POLICY": str(policy),
        "LLMVET_ADMIN_TOKEN": TOKEN,
        "LLMVET_POLICY_HEARTBEAT_INTERVAL": "0.5",
        "LLMVET_LOG_LEVEL": "warning",
        **env,
    }
    procs, urls = [], []
    for _ in range(2):
        port = free_port()
        procs.append(subprocess.Popen(["llmvet", "serve", "--port", str(port)], cwd=tmp_path, env=env))
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for url in urls:
            wait_port(int(url.rsplit(":", 1)[1]), 30)
        yield policy, procs, urls
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in procs:
            proc.wait(20)


@pytest.fixture
def fleet(redis_url, fake, tmp_path: Path) -> Iterator[tuple[Path, list[subprocess.Popen], list[str]]]:
    with start_fleet(V1, redis_url, fake.url + "/v1", tmp_path) as started:
        yield started


class Traffic:
    """The openai SDK sending to both replicas in turn until stopped; every outcome is kept."""

    def __init__(self, urls: list[str]) -> None:
        self.clients = [openai.OpenAI(base_url=u + "/v1", api_key="k", max_retries=0, timeout=20) for u in urls]
        self.seen: list[tuple[int, str, str, str]] = []  # (replica, x-llmvet-policy, decision, request id)
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        i = 0
        while not self._stop.is_set():
            n = i % len(self.clients)
            try:
                raw = self.clients[n].chat.completions.with_raw_response.create(
                    model="m", messages=[{"role": "user", "content": f"q{i}"}]
                )
                h = raw.headers
                self.seen.append((n, h["x-llmvet-policy"], h["x-llmvet-decision"], h["x-llmvet-request-id"]))
            except Exception as exc:  # any failure is a finding of the test
                self.failures.append(f"{type(exc).__name__}: {exc}")
            i += 1

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def count(self) -> int:
        return len(self.seen)


def test_two_replicas_converge_under_traffic(fleet, fake, redis_url, tmp_path):
    fake.reset(lambda b: Reply(text=LEAK))
    policy, (proc_a, _), (a, b) = fleet
    wait_until(lambda: len(ready(a).get("replicas", {})) == 2, what="both heartbeats")
    start = ready(a)
    assert start["converged"] is True and set(start["replicas"].values()) == {served(V1)}

    with Traffic([a, b]) as traffic:
        wait_until(lambda: traffic.count() >= 10, what="traffic")
        policy.write_text(V2)
        proc_a.send_signal(signal.SIGHUP)  # replica A: the signal
        wait_until(lambda: ready(a)["policy"] == served(V2), what="A to reload")
        # B still serves V1 and sees, in the store, that A moved on: the fleet has not converged.
        wait_until(lambda: ready(b)["converged"] is False, what="B to see A's new version")
        seen_by_b = ready(b)
        assert seen_by_b["policy"] == served(V1)
        assert sorted(seen_by_b["replicas"].values()) == sorted([served(V1), served(V2)])
        assert seen_by_b["replicas"][ready(a)["replica"]] == served(V2)

        # `llmvet report` warns once they disagree longer than the setting (0 s here; default 120 s).
        report = subprocess.run(
            ["llmvet", "report", "--json", "--store", redis_url],
            capture_output=True,
            text=True,
            env={**os.environ, "LLMVET_POLICY_DISAGREE_WARN": "0"},
            timeout=60,
        )
        assert report.returncode == 0, report.stderr
        assert "replicas have served different policies" in report.stderr
        assert served(V1) in report.stderr and served(V2) in report.stderr
        quiet = subprocess.run(
            ["llmvet", "report", "--json", "--store", redis_url], capture_output=True, text=True, timeout=60
        )
        assert "different policies" not in quiet.stderr  # default: 120 s of disagreement first

        mid = traffic.count()
        wait_until(lambda: traffic.count() >= mid + 10, what="traffic during the disagreement")
        r = httpx.post(b + "/llmvet/v1/admin/policy/reload", headers={"authorization": f"Bearer {TOKEN}"}, timeout=30)
        assert r.status_code == 200 and r.json()["policy"] == served(V2)  # replica B: the admin endpoint
        for url in (a, b):
            wait_until(lambda url=url: ready(url)["converged"] is True, what=f"{url} to see convergence")
            assert set(ready(url)["replicas"].values()) == {served(V2)}
        end = traffic.count()
        wait_until(lambda: traffic.count() >= end + 10, what="traffic after convergence")

    assert traffic.failures == []
    for replica, version, decision, _ in traffic.seen:
        assert DECIDES[version] == decision, (replica, version, decision)  # decided by the version it names
    versions = {(replica, version) for replica, version, _, _ in traffic.seen}
    assert versions == {(0, served(V1)), (0, served(V2)), (1, served(V1)), (1, served(V2))}
    assert [v for r, v, _, _ in traffic.seen if r == 1][-1] == served(V2)

    # The audit agrees with each response's header.
    wait_until(lambda: len(responses_audited(redis_url)) >= len(traffic.seen), what="audit")
    audited = responses_audited(redis_url)
    assert all(audited[rid] == version for _, version, _, rid in traffic.seen)

    # Both replicas count the fleet: two live replicas serve V2 and none V1.
    def counted() -> bool:
        samples = parse_metrics(httpx.get(a + "/metrics").text)
        name, version = served(V2).split("@")
        return metric_value(samples, "llmvet_policy_replicas", policy=name, version=version) == 2

    wait_until(counted, what="llmvet_policy_replicas")
    # A replica that stops leaves the picture at once (no wait for its heartbeat's TTL).
    proc_a.send_signal(signal.SIGTERM)
    proc_a.wait(20)
    assert list(ready(b)["replicas"]) == [ready(b)["replica"]]


def test_a_held_item_decided_on_the_other_replica_after_reloads_keeps_its_policy(redis_url, fake, tmp_path):
    """Held on A under the old policy; both replicas reload; a reviewer decides on B: the held
    response (and its audit records) name the policy it was held under."""
    from tests.support.review_helpers import ANSWER, InThread, add_reviewer, policy, wait_for_item

    fake.reset(lambda b: Reply(text=ANSWER))
    held = policy()
    with start_fleet(held, redis_url, fake.url + "/v1", tmp_path, LLMVET_REVIEW_POLL_INTERVAL="0.05") as started:
        path, (proc_a, _), (a, b) = started
        reviewer = add_reviewer(redis_url, "alice")
        client = openai.OpenAI(base_url=a + "/v1", api_key="k", max_retries=0, timeout=60)
        call = InThread(
            lambda: client.chat.completions.with_raw_response.create(
                model="m", messages=[{"role": "user", "content": "How do I vectorize a dataframe?"}]
            )
        )
        item = wait_for_item(b, reviewer)  # B sees the item A holds (one queue in redis)
        newer = held.replace("name: review-test", "name: review-test-2")
        path.write_text(newer)
        proc_a.send_signal(signal.SIGHUP)
        r = httpx.post(b + "/llmvet/v1/admin/policy/reload", headers={"authorization": f"Bearer {TOKEN}"}, timeout=30)
        assert r.status_code == 200
        for url in (a, b):
            wait_until(lambda url=url: set(ready(url)["replicas"].values()) == {f"review-test-2@{version(newer)}"})
        assert not call.done  # still held through both reloads
        approve = httpx.post(
            f"{b}/llmvet/v1/reviews/{item['id']}/approve", headers={"authorization": f"Bearer {reviewer}"}
        )
        assert approve.status_code == 200, approve.text
        raw = call.result()
        assert raw.headers["x-llmvet-review-status"] == "approved"
        assert raw.headers["x-llmvet-policy"] == f"review-test@{version(held)}"
        request_id = raw.headers["x-llmvet-request-id"]

        def recorded() -> set[tuple[str, str]]:
            return {
                (r["policy"], r["policy_version"]) for r in read_audit(redis_url) if r.get("request_id") == request_id
            }

        wait_until(lambda: len(recorded()) > 0, what="the held request's audit records")
        assert recorded() == {("review-test", version(held))}
