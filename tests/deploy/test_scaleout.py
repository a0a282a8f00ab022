"""Scale-out for real: three `llmvet serve` processes on one redis-server, behind Debian's haproxy running
deploy/haproxy.cfg, driven concurrently by the openai SDK. One replica is killed (-9) under load and
restarted; another gets SIGTERM while it holds review items. Nothing may be lost: every call ends, within
bounded timeouts and the SDK's default retries, in an answer or an OpenAI-shaped error; every audit
record is there exactly once, the crashed replica's too (its journal is replayed when it restarts);
every review item (the crashed replica's too) can be decided."""

from __future__ import annotations

import re
import shutil
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass

import httpx
import openai
import pytest

from tests.review.test_processes import Serve
from tests.support.fake_upstream import Reply
from tests.support.loadbalancer import Haproxy, haproxy
from tests.support.review_helpers import ANSWER, InThread, add_reviewer, policy, read_audit
from tests.support.servers import free_port

pytestmark = pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed (.ci/install)")

ALL_UP = {"r0": "UP", "r1": "UP", "r2": "UP"}


@dataclass
class Outcome:
    """What one client call ended with: "ok" or the error's status and code, and who answered it."""

    result: str
    request_id: str | None
    served_by: str | None
    done_at: float
    text: str | None = None
    retries: int = 0  # attempts the SDK made again (its default policy: connection errors, 5xx, 429)


def call(client: openai.OpenAI, prompt: str) -> Outcome:
    """One chat completion through the load balancer; only answers and OpenAI-shaped errors return."""
    messages = [{"role": "user", "content": prompt}]
    try:
        raw = client.chat.completions.with_raw_response.create(model="gpt-x", messages=messages)
    except openai.APIStatusError as exc:
        error = exc.response.json()["error"]  # the raw bytes the client got: JSON with an OpenAI error object
        assert isinstance(error["message"], str) and error["type"] and "code" in error, exc.response.content
        served = exc.response.headers.get("x-served-by")
        return Outcome(f"{exc.status_code} {error['code']}", None, served, time.monotonic())
    text = raw.parse().choices[0].message.content
    served = raw.headers.get("x-served-by")
    return Outcome("ok", raw.headers["x-llmvet-request-id"], served, time.monotonic(), text, raw.retries_taken)


class Load:
    """`clients` threads sending plain requests in a loop until stopped; a connection error or a hang
    (the SDK's timeout) is kept as an outcome of its own, so the test sees it instead of a thread dying."""

    def __init__(self, url: str, clients: int) -> None:
        self.outcomes: list[Outcome] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(url, i), daemon=True) for i in range(clients)]

    def _run(self, url: str, n: int) -> None:
        client = openai.OpenAI(base_url=url + "/v1", api_key="sk-client-key", max_retries=2, timeout=20)
        i = 0
        while not self._stop.is_set():
            i += 1
            try:
                self.outcomes.append(call(client, f"load {n}-{i}"))
            except Exception as exc:  # APIConnectionError, APITimeoutError, a body that is not an OpenAI error
                self.failures.append(f"{type(exc).__name__}: {exc} ({exc.__cause__!r}) at {time.monotonic():.2f}")

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(30)
        assert not any(t.is_alive() for t in self._threads), "a client call hung"


def review_api(lb: Haproxy, token: str, method: str, path: str, **kw) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.request(method, f"{lb.url}/llmvet/v1{path}", headers=headers, timeout=10, **kw)


def pending_ids(lb: Haproxy, token: str) -> list[str]:
    listed = review_api(lb, token, "GET", "/reviews", params={"status": "pending", "limit": 500})
    assert listed.status_code == 200, listed.text
    return [i["id"] for i in listed.json()["data"]]


def hold_on_every_replica(lb: Haproxy, token: str, count: int) -> list[InThread]:
    """Held requests sent one at a time, each once the previous one waits: haproxy's leastconn then gives
    every replica the same number (a held request keeps its connection open)."""
    client = openai.OpenAI(base_url=lb.url + "/v1", api_key="sk-client-key", max_retries=2, timeout=60)
    held = []
    for i in range(count):
        held.append(InThread(call, client, f"hold-{i}: how do I vectorize a dataframe?"))
        deadline = time.monotonic() + 15
        while len(pending_ids(lb, token)) < i + 1:
            assert time.monotonic() < deadline, "a held request never reached the queue"
            time.sleep(0.05)
    return held


def approve_everything(lb: Haproxy, token: str, held: list[InThread]) -> list[str]:
    """Approve pending items through the load balancer until no client waits and nothing is pending."""
    approved: list[str] = []
    deadline = time.monotonic() + 20
    while (ids := pending_ids(lb, token)) or not all(h.done for h in held):
        assert time.monotonic() < deadline, f"still pending: {ids}"
        for rid in ids:
            r = review_api(lb, token, "POST", f"/reviews/{rid}/approve")
            assert r.status_code == 200, r.text
            approved.append(rid)
        time.sleep(0.1)
    return approved


def reply(body: dict) -> Reply:
    prompt = body["messages"][-1]["content"]
    return Reply(text=ANSWER if prompt.startswith("hold-") else f"answer to {prompt}")


def test_three_replicas_lose_nothing_through_a_kill_and_a_drain(fake, redis_url, tmp_path, monkeypatch):
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    fake.reset(reply)
    monkeypatch.setenv("LLMVET_DRAIN_TIMEOUT", "20")  # longer than the test needs: decisions end the drain
    pol = tmp_path / "policy.yaml"
    pol.write_text(policy(timeout=60))
    ports = [free_port() for _ in range(3)]

    def start(i: int) -> Serve:
        journal = ("--audit-journal", str(tmp_path / f"journal-r{i}"))  # each replica its own, kept across restarts
        return Serve(fake.url + "/v1", pol, redis_url, tmp_path / f"r{i}.log", *journal, port=ports[i])

    replicas = [start(i) for i in range(3)]
    try:
        for r in replicas:
            r.ready()
        token = add_reviewer(redis_url, "alice")
        with haproxy(ports, tmp_path / "lb") as lb:
            lb.wait_states(ALL_UP)
            # One call first, from this thread: the SDK builds its response models lazily, and threads
            # doing that at once can fail inside pydantic ("BaseModel cannot be instantiated directly").
            assert call(openai.OpenAI(base_url=lb.url + "/v1", api_key="sk-client-key"), "warm-up").result == "ok"
            held = hold_on_every_replica(lb, token, 6)
            with Load(lb.url, clients=6) as load:
                time.sleep(1.5)
                replicas[0].kill()  # a crash: in-flight and held requests on r0 lose their connection
                lb.wait_states({"r0": "DOWN"})
                replicas[0] = start(0).ready()
                time.sleep(0.5)
                replicas[1].proc.send_signal(signal.SIGTERM)  # a rolling deploy, with requests held on r1
                lb.wait_states({"r1": "DOWN"})  # /readyz failed first
                approved = approve_everything(lb, token, held)
                assert replicas[1].proc.wait(25) == 0  # drained: its held clients got their answers first
                replicas[1].log.close()
                replicas[1] = start(1).ready()
                lb.wait_states(ALL_UP)
                time.sleep(0.5)
        held_outcomes = [h.result(5) for h in held]
        audit = settled_audit(redis_url, load.outcomes + held_outcomes)
        replays = [ln for ln in (tmp_path / "r0.log").read_text().splitlines() if "replayed:" in ln]
        print(f"\nr0 after its kill -9: {replays}")
        _check(load, held_outcomes, approved, audit)
    finally:
        for r in replicas:
            if not r.log.closed:
                r.stop()


def settled_audit(redis_url: str, outcomes: list[Outcome]) -> list[dict]:
    """The audit log once the live replicas have flushed (they write every 0.2 s, later on a busy machine)."""
    deadline = time.monotonic() + 10
    while True:
        audit = read_audit(redis_url)
        recorded = {r["request_id"] for r in audit if not r.get("kind")}
        late = [o for o in outcomes if o.request_id and o.request_id not in recorded]
        if not late or time.monotonic() > deadline:
            return audit
        time.sleep(0.2)


def _check(load: Load, held: list[Outcome], approved: list[str], audit: list[dict]) -> None:
    # Every call ended: an answer or an OpenAI-shaped error, never a cut connection or a hang.
    assert load.failures == []
    results = Counter(o.result for o in load.outcomes)
    assert results["ok"] > 50 and set(results) <= {"ok", "503 draining"}, results
    # Every held client got an answer: the approved one, or, held on the draining replica, either that
    # (decided during the drain) or a "pending" answer naming its review item, which was then decided.
    # r0's were sent again (by haproxy or the SDK: the replica died without answering) and held elsewhere.
    assert [o.result for o in held] == ["ok"] * 6 and "r1" in {o.served_by for o in held}
    for o in held:
        if o.text != ANSWER:
            assert o.served_by == "r1" and re.search(r"rev_[0-9a-f]+", o.text or "")[0] in approved, o

    # Exactly once: response records by request id, held records by request id, decisions by review id.
    responses = Counter(r["request_id"] for r in audit if not r.get("kind"))
    held_records = Counter(r["request_id"] for r in audit if r.get("kind") == "escalation.held")
    decisions = Counter(r["review_id"] for r in audit if r.get("kind") == "review")
    assert max(responses.values()) == 1 and max(held_records.values()) == 1 and max(decisions.values()) == 1
    assert sorted(decisions) == sorted(approved) and len(approved) == len(held_records)
    # The crashed replica's items stayed decidable: they were approved after its restart, nobody waiting.
    answered = {o.request_id for o in [*held, *load.outcomes] if o.request_id}
    assert len(set(held_records) - answered) == 2
    # Every answer is in the audit log, the crashed replica's last ones too (replayed from its journal).
    missing = [o for o in load.outcomes + held if o.request_id and o.request_id not in responses]
    retried = sum(o.retries for o in load.outcomes + held)
    crashed = sum(1 for o in load.outcomes if o.served_by == "r0" and o.request_id)
    print(f"\nscale-out: {dict(results)} load calls, {retried} SDK retries, {len(missing)} audit records lost")
    assert missing == [] and crashed > 0, (missing, crashed)
