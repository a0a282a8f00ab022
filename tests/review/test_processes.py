"""The queue across real `llmvet serve` processes: two replicas sharing Redis (a request held on A is
released by a decision made through B), and a proxy killed and restarted with items queued and held."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest

from tests.support.fake_upstream import Reply
from tests.support.review_helpers import ANSWER, InThread, add_reviewer, policy, read_audit, wait_for_item
from tests.support.servers import free_port

MSG = [{"role": "user", "content": "How do I vectorize a dataframe?"}]


class Serve:
    """`llmvet serve` in a child process."""

    def __init__(
        self,
        upstream: str,
        policy_file: Path,
        store: str,
        log: Path,
        *extra_args: str,
        env: dict[str, str] | None = None,
        port: int | None = None,
    ) -> None:
        self.port = port or free_port()  # a restart passes the port its load balancer knows
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "LLMVET_REVIEW_POLL_INTERVAL": "0.05", "LLMVET_LOG_LEVEL": "warning", **(env or {})}
        self.log = open(log, "ab")  # noqa: SIM115  # held open for the server process's life
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys; from llmvet.cli import main; sys.exit(main())",
                "serve",
                "--upstream",
                upstream,
                "--policy",
                str(policy_file),
                "--store",
                store,
                "--port",
                str(self.port),
                *extra_args,
            ],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self._logfile = log

    def ready(self) -> Serve:
        log = self._logfile
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"llmvet serve did not start; see {log}")
            time.sleep(0.1)
        return self

    def client(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.url + "/v1", api_key="sk-client-key", max_retries=0, timeout=60)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)  # a crash: no graceful shutdown, no flush
            self.proc.wait(10)
        self.log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


@pytest.fixture
def procs():
    started: list[Serve] = []
    yield started
    for p in started:
        if not p.log.closed:
            p.stop()


def _flush(redis_url: str) -> None:
    import redis

    r = redis.Redis.from_url(redis_url)
    r.flushdb()
    r.close()


def _api(base: str, token: str, method: str, path: str, **kw) -> httpx.Response:
    return httpx.request(
        method, f"{base}/llmvet/v1{path}", headers={"Authorization": f"Bearer {token}"}, timeout=10, **kw
    )


def test_held_on_replica_a_released_through_replica_b(fake, redis_url, tmp_path, procs):
    _flush(redis_url)
    fake.reset(lambda body: Reply(text=ANSWER))
    pol = tmp_path / "policy.yaml"
    pol.write_text(policy(timeout=60))
    # Polling every 30 s: a decision made on B reaches the request held on A through Redis pub/sub only.
    slow_poll = {"LLMVET_REVIEW_POLL_INTERVAL": "30"}
    a = Serve(fake.url + "/v1", pol, redis_url, tmp_path / "a.log", env=slow_poll)
    procs.append(a)
    b = Serve(fake.url + "/v1", pol, redis_url, tmp_path / "b.log", env=slow_poll)  # both start at once
    procs.append(b)
    a.ready(), b.ready()
    alice, bob = add_reviewer(redis_url, "alice"), add_reviewer(redis_url, "bob")

    call = InThread(lambda: a.client().chat.completions.create(model="gpt-x", messages=MSG))
    item = wait_for_item(b.url, alice)  # A queued it; B sees it
    assert _api(a.url, alice, "POST", f"/reviews/{item['id']}/claim").status_code == 200
    r = _api(b.url, bob, "POST", f"/reviews/{item['id']}/approve")  # alice's lease holds across replicas
    assert r.status_code == 409 and "alice" in r.json()["error"]["message"]
    started = time.monotonic()
    assert _api(b.url, alice, "POST", f"/reviews/{item['id']}/edit", json={"text": "Use pandas."}).status_code == 200
    assert call.result().choices[0].message.content == "Use pandas."
    assert time.monotonic() - started < 3

    # And a streaming request held on B, approved through A.
    def stream() -> str:
        chunks = b.client().chat.completions.create(model="gpt-x", messages=MSG, stream=True)
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)

    call = InThread(stream)
    second = wait_for_item(a.url, bob, exclude={item["id"]})
    assert _api(a.url, bob, "POST", f"/reviews/{second['id']}/approve").status_code == 200
    assert call.result() == ANSWER


def test_deferred_on_a_decided_on_b_polled_from_either(fake, redis_url, tmp_path, procs):
    _flush(redis_url)
    fake.reset(lambda body: Reply(text=ANSWER))
    pol = tmp_path / "policy.yaml"
    pol.write_text(policy(mode="defer", timeout=600))
    a = Serve(fake.url + "/v1", pol, redis_url, tmp_path / "a.log")
    procs.append(a)
    b = Serve(fake.url + "/v1", pol, redis_url, tmp_path / "b.log")
    procs.append(b)
    a.ready(), b.ready()
    token = add_reviewer(redis_url, "alice")

    raw = a.client().chat.completions.with_raw_response.create(model="gpt-x", messages=MSG)
    rid, request_id = raw.headers["x-llmvet-review-id"], raw.headers["x-llmvet-request-id"]
    assert ANSWER not in raw.text  # withheld until a reviewer decides
    client = {"Authorization": "Bearer sk-client-key"}
    for server in (a, b):  # the client may poll whichever replica the load balancer picks
        assert httpx.get(f"{server.url}/llmvet/v1/reviews/{rid}", headers=client).json()["status"] == "pending"

    edited = "Use pandas' built-in vectorised operations."
    assert _api(b.url, token, "POST", f"/reviews/{rid}/edit", json={"text": edited}).status_code == 200
    for server in (a, b):
        status = httpx.get(f"{server.url}/llmvet/v1/reviews/{rid}", headers=client).json()
        assert status["status"] == "edited" and status["response"]["choices"][0]["message"]["content"] == edited

    # One shared audit log: A's response record (written in batches, so wait for it), B's decision, once each.
    deadline = time.monotonic() + 10
    records = read_audit(redis_url)
    while not any(r.get("request_id") == request_id and not r.get("kind") for r in records):
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
        records = read_audit(redis_url)
    assert [r["request_id"] for r in records if r.get("request_id") == request_id and not r.get("kind")] == [request_id]
    assert [(r["review_id"], r["action"]) for r in records if r.get("kind") == "review"] == [(rid, "edited")]


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_items_survive_a_crash_and_stay_decidable(fake, redis_url, tmp_path, procs, backend):
    if backend == "redis":
        _flush(redis_url)
        store = redis_url
    else:
        store = f"sqlite:///{tmp_path / 'llmvet.db'}"
    fake.reset(lambda body: Reply(text=ANSWER))
    pol = tmp_path / "policy.yaml"
    pol.write_text(policy(timeout=60))
    first = Serve(fake.url + "/v1", pol, store, tmp_path / "first.log").ready()
    procs.append(first)
    token = add_reviewer(store, "alice")
    held = [InThread(lambda: first.client().chat.completions.create(model="gpt-x", messages=MSG)) for _ in range(2)]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        listed = _api(first.url, token, "GET", "/reviews").json()
        if listed["total"] == 2:
            break
        time.sleep(0.05)
    assert listed["total"] == 2
    ids = sorted(i["id"] for i in listed["data"])

    first.kill()
    for call in held:  # the held clients lose their connection...
        with pytest.raises(openai.APIConnectionError):
            call.result()

    second = Serve(fake.url + "/v1", pol, store, tmp_path / "second.log").ready()
    procs.append(second)
    listed = _api(second.url, token, "GET", "/reviews").json()  # ...but the items are still there
    assert sorted(i["id"] for i in listed["data"]) == ids and {i["status"] for i in listed["data"]} == {"pending"}
    assert _api(second.url, token, "POST", f"/reviews/{ids[0]}/approve").status_code == 200
    r = _api(second.url, token, "POST", f"/reviews/{ids[1]}/reject", json={"reason": "made-up package"})
    assert r.status_code == 200
    got = {i: _api(second.url, token, "GET", f"/reviews/{i}").json() for i in ids}
    assert got[ids[0]]["status"] == "approved" and got[ids[1]]["decision"]["reason"] == "made-up package"
    second.stop()
    human = [r for r in read_audit(store) if r.get("kind") == "review"]
    assert sorted((r["review_id"], r["action"]) for r in human) == [(ids[0], "approved"), (ids[1], "rejected")]
