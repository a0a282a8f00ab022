"""Graceful drain of a real `llmvet serve` process: SIGTERM fails /readyz at once, a running stream
still ends whole, new work is turned away with an OpenAI-shaped 503, held review requests get a
deferred ("pending") answer, and the process exits 0."""

from __future__ import annotations

import fcntl
import os
import signal
import threading
import time
from pathlib import Path

import httpx
import openai
import pytest

from tests.review.test_processes import MSG, Serve, _flush
from tests.support.fake_upstream import Reply
from tests.support.review_helpers import ANSWER, BAD, InThread, add_reviewer, policy, read_audit, wait_for_item

STREAM_POLICY = """
version: 1
name: drain-test
rules:
  - name: vetted
    validators:
      - use: regex
        with: {must_not_match: ["forbidden"], severity: high}
        on_fail: block
"""
LONG = " ".join(f"word{i}" for i in range(40))  # ~280 chars: 40 SSE chunks of 7 chars


@pytest.fixture
def serve(fake, tmp_path, monkeypatch):
    """Start `llmvet serve` (SQLite store) in front of the fake upstream with a drain timeout."""

    def start(policy_text: str, drain_timeout: float, *extra_args: str) -> Serve:
        monkeypatch.setenv("LLMVET_DRAIN_TIMEOUT", str(drain_timeout))
        pol = tmp_path / "policy.yaml"
        pol.write_text(policy_text)
        server = Serve(
            fake.url + "/v1", pol, f"sqlite:///{tmp_path / 'llmvet.db'}", tmp_path / "serve.log", *extra_args
        )
        started.append(server)
        return server.ready()

    started: list[Serve] = []
    yield start
    for server in started:
        if not server.log.closed:
            server.stop()


def _readyz(server: Serve) -> httpx.Response:
    return httpx.get(server.url + "/readyz", timeout=2)


def held_slots(journal: Path) -> int:
    """Worker processes alive: each holds its audit journal slot's lock for its life."""
    held = 0
    for lock in journal.glob("*/worker-*/lock"):
        fd = os.open(lock, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            held += 1
        finally:
            os.close(fd)
    return held


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_fails_readyz_and_lets_a_stream_finish(fake, serve, workers, tmp_path):
    start = serve
    fake.reset(lambda body: Reply(text=LONG, chunk_delay=0.08))  # ~3 s of streaming
    # --workers 2: the supervisor passes SIGTERM to each worker, and each drains
    journal = tmp_path / "journal"
    args = ["--audit-journal", str(journal), *(["--workers", str(workers)] if workers > 1 else [])]
    server = start(STREAM_POLICY, 20, *args)
    assert _readyz(server).json()["status"] == "ready"
    deadline = time.monotonic() + 10
    while held_slots(journal) < workers:  # every worker is up
        assert time.monotonic() < deadline
        time.sleep(0.05)

    first_chunk = threading.Event()

    def stream() -> str:
        parts = []
        for chunk in server.client().chat.completions.create(model="gpt-x", messages=MSG, stream=True):
            if chunk.choices and chunk.choices[0].delta.content:
                parts.append(chunk.choices[0].delta.content)
                first_chunk.set()
        return "".join(parts)

    call = InThread(stream)
    assert first_chunk.wait(10)
    stream_ends = time.monotonic() + 39 * 0.08  # at the earliest: the upstream waits between its chunks
    server.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 2
    while (r := _readyz(server)).status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert r.status_code == 503 and r.json()["status"] == "draining"
    assert call.thread.is_alive()  # the stream is still running while the replica reports draining

    # While the stream runs, every new request (a new connection each: any worker may accept it) is
    # turned away with a 503 "draining", never a reset connection; with several workers, the idle ones
    # keep serving: none has exited. (Sent until 1 s before the stream can end: then the replica stops.)
    refused, alive = [], []
    while time.monotonic() < stream_ends - 1.0:
        alive.append(held_slots(journal))
        with pytest.raises(openai.APIStatusError) as turned_away:  # new work goes elsewhere
            server.client().chat.completions.create(model="gpt-x", messages=MSG)
        refused.append((turned_away.value.status_code, turned_away.value.code))
    assert len(refused) >= 3 and set(refused) == {(503, "draining")}, refused
    assert set(alive) == {workers}, alive
    assert call.thread.is_alive()

    assert call.result() == LONG  # every byte of the running stream arrived
    assert server.proc.wait(10) == 0


def _records(store: str, request_id: str, want: int) -> list[dict]:
    """The audit records of one request, once `want` of them are there (responses are batched)."""
    deadline = time.monotonic() + 10
    while True:
        mine = [r for r in read_audit(store) if r.get("request_id") == request_id]
        if len(mine) >= want or time.monotonic() > deadline:
            return mine
        time.sleep(0.1)


@pytest.mark.parametrize("stream", [False, True])
def test_sigterm_turns_a_held_request_into_a_deferred_answer(fake, redis_url, tmp_path, stream):
    """Replica A (real redis) holds a request for review and is told to stop: the client gets the
    pending answer a deferred escalation gets (review id, where to read the outcome) well before the
    drain timeout, never the unreviewed answer; the item is decided through replica B and the client
    reads the final answer there. The request's audit record was written before it waited."""
    _flush(redis_url)
    fake.reset(lambda body: Reply(text=ANSWER))
    pol = tmp_path / "policy.yaml"
    pol.write_text(policy(timeout=300, on_timeout="allow"))  # nobody deciding must not mean "allowed" here
    drain = {"LLMVET_DRAIN_TIMEOUT": "30"}
    a = Serve(fake.url + "/v1", pol, redis_url, tmp_path / "a.log", env=drain)
    b = Serve(fake.url + "/v1", pol, redis_url, tmp_path / "b.log", env=drain)
    try:
        a.ready(), b.ready()
        token = add_reviewer(redis_url, "alice")
        call = InThread(_raw_call, a, stream)
        item = wait_for_item(b.url, token)
        held = _records(redis_url, item["request_id"], 1)
        assert [r.get("kind") for r in held] == ["escalation.held"]  # on record before the decision

        sent = time.monotonic()
        a.proc.send_signal(signal.SIGTERM)
        headers, body = call.result()
        assert time.monotonic() - sent < 15  # only held requests were left: no wait for the 30 s drain
        rid = item["id"]
        assert headers["x-llmvet-review-status"] == "pending" and headers["x-llmvet-review-id"] == rid
        assert f"/llmvet/v1/reviews/{rid}".encode() in body and b"waiting for human review" in body
        assert ANSWER.encode() not in body and BAD.encode() not in body  # the unreviewed answer stays in
        assert a.proc.wait(15) == 0

        client = {"Authorization": "Bearer sk-client-key"}
        status = httpx.get(f"{b.url}/llmvet/v1/reviews/{rid}", headers=client, timeout=5).json()
        assert status["status"] == "pending" and status["mode"] == "defer"
        approve = httpx.post(
            f"{b.url}/llmvet/v1/reviews/{rid}/approve", headers={"Authorization": f"Bearer {token}"}, timeout=5
        )
        assert approve.status_code == 200
        status = httpx.get(f"{b.url}/llmvet/v1/reviews/{rid}", headers=client, timeout=5).json()
        assert status["status"] == "approved" and status["answer"] == ANSWER

        records = _records(redis_url, item["request_id"], 3)
        kinds = sorted(r.get("kind") or "response" for r in records)
        assert kinds == ["escalation.held", "response", "review"]  # each once: `report` counts "response"
        response = next(r for r in records if not r.get("kind"))
        assert response["action"] == "escalate" and response["status"] == 200
    finally:
        for server in (a, b):
            if not server.log.closed:
                server.stop()


def _raw_call(server: Serve, stream: bool) -> tuple[dict[str, str], bytes]:
    """The client's call through the openai SDK, as the raw headers and bytes it received."""
    client = server.client()
    with client.chat.completions.with_streaming_response.create(model="gpt-x", messages=MSG, stream=stream) as r:
        return dict(r.headers), r.read()


def slot_holders(journal: Path) -> set[int]:
    """The pids of the live processes holding the journal's slots (each lock file names its holder)."""
    pids = set()
    for lock in journal.glob("*/worker-*/lock"):
        fd = os.open(lock, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pids.add(int(lock.read_text()))
        finally:
            os.close(fd)
    return pids


def test_a_worker_stopped_alone_does_not_wait_for_siblings_that_keep_serving(fake, serve, tmp_path):
    """uvicorn stops one worker alone when it replaces it (SIGHUP) or runs one fewer (SIGTTOU): the
    siblings go on serving, so it must not wait for them as it would when the whole serve stops."""
    journal = tmp_path / "journal"
    server = serve(STREAM_POLICY, 60, "--workers", "2", "--audit-journal", str(journal))
    deadline = time.monotonic() + 10
    while len(pids := slot_holders(journal)) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    stopped = min(pids)
    os.kill(stopped, signal.SIGTERM)
    deadline = time.monotonic() + 20  # a third of the drain timeout it would wait for its siblings
    while stopped in slot_holders(journal):
        assert time.monotonic() < deadline, "the worker waited for siblings that go on serving"
        time.sleep(0.1)
    assert server.client().chat.completions.create(model="gpt-x", messages=MSG).choices[0].message.content
