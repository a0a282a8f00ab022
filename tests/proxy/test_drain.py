"""Graceful drain of a real `llmvet serve` process: SIGTERM fails /readyz at once, a running stream
still ends whole, new work is turned away with an OpenAI-shaped 503, held review requests get their
rule's on_timeout once the drain timeout passes, and the process exits 0."""

from __future__ import annotations

import signal
import threading
import time

import httpx
import openai
import pytest

from tests.review.test_processes import MSG, Serve
from tests.support.fake_upstream import Reply
from tests.support.review_helpers import ANSWER, InThread, add_reviewer, policy, read_audit, wait_for_item

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


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_fails_readyz_and_lets_a_stream_finish(fake, serve, workers):
    start = serve
    fake.reset(lambda body: Reply(text=LONG, chunk_delay=0.08))  # ~3 s of streaming
    # --workers 2: the supervisor passes SIGTERM to each worker, and each drains
    server = start(STREAM_POLICY, 20, *(["--workers", str(workers)] if workers > 1 else []))
    assert _readyz(server).json()["status"] == "ready"

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
    server.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 2
    while (r := _readyz(server)).status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert r.status_code == 503 and r.json()["status"] == "draining"
    assert call.thread.is_alive()  # the stream is still running while the replica reports draining

    with pytest.raises(openai.APIStatusError) as refused:  # new work goes elsewhere
        server.client().chat.completions.create(model="gpt-x", messages=MSG)
    assert refused.value.status_code == 503 and refused.value.code == "draining"

    assert call.result() == LONG  # every byte of the running stream arrived
    assert server.proc.wait(10) == 0


def test_drain_timeout_gives_held_requests_their_fallback(fake, serve, tmp_path):
    start = serve
    fake.reset(lambda body: Reply(text=ANSWER))
    server = start(policy(timeout=60, on_timeout="annotate"), 1)
    store = f"sqlite:///{tmp_path / 'llmvet.db'}"
    token = add_reviewer(store, "alice")

    call = InThread(lambda: server.client().chat.completions.with_raw_response.create(model="gpt-x", messages=MSG))
    item = wait_for_item(server.url, token)
    sent = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    raw = call.result()  # answered, not cut: the rule's on_timeout (annotate) after the 1 s drain
    waited = time.monotonic() - sent
    assert raw.headers["x-llmvet-review-status"] == "timeout"
    assert raw.headers["x-llmvet-decision"] == "annotate"
    assert raw.parse().choices[0].message.content == ANSWER
    assert 0.9 < waited < 10  # the drain timeout, far below the rule's 60 s hold
    assert server.proc.wait(10) == 0
    reviews = [r for r in read_audit(store) if r.get("kind") == "review"]
    assert [(r["review_id"], r["action"]) for r in reviews] == [(item["id"], "timeout:annotate")]
