"""`llmvet serve` stops promptly on SIGTERM while an embedding model is still loading from a model hub
that cannot be reached (the hub client retries for about a minute): the load must not hold up the exit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.embeddings import needs_embeddings
from tests.support.servers import free_port, wait_port

ROOT = Path(__file__).resolve().parents[2]


@needs_embeddings
@pytest.mark.timeout(90)
def test_sigterm_exits_promptly_while_the_model_load_retries_an_unreachable_hub(fake, tmp_path):
    port, hub = free_port(), free_port()  # nothing listens on `hub`: every hub request is refused
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "LLMVET_EMBEDDING_MODEL")}
    env |= {"HF_HOME": str(tmp_path / "hf"), "HF_ENDPOINT": f"http://127.0.0.1:{hub}", "LLMVET_LOG_LEVEL": "info"}
    command = [sys.executable, "-c", "import sys; from llmvet.cli import main; sys.exit(main())", "serve"]
    command += ["--upstream", fake.url + "/v1", "--policy", str(ROOT / "policies" / "coding-assistant.yaml")]
    command += ["--port", str(port), "--store", f"sqlite:///{tmp_path / 'llmvet.db'}"]
    log = tmp_path / "serve.log"
    proc = subprocess.Popen(command, env=env, stderr=open(log, "wb"), stdout=subprocess.DEVNULL)  # noqa: SIM115
    try:
        wait_port(port, 30)
        warming = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).json()
        assert warming["validators"] == "warming"  # the model load is under way (and cannot finish)
        time.sleep(1.0)  # into the hub client's retries
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
        took = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0, log.read_text()[-2000:]
    assert took < 5, f"exit took {took:.1f}s"


POLICY = """
version: 1
name: shutdown-test
rules:
  - name: everything
    validators:
      - use: regex
        with: {must_not_match: ["never-in-an-answer"], severity: low}
        on_fail: annotate
"""


@pytest.mark.timeout(150)
def test_sigterm_exits_while_the_redis_store_hangs_and_the_journal_keeps_the_records(fake, tmp_path):
    """A store that stopped answering (here: redis-server stopped with SIGSTOP, its connections open)
    must not hold up the exit: every shutdown step is bounded. The record it could not write is in the
    audit journal, and the next start writes it once Redis answers again."""
    from tests.review.test_processes import Serve
    from tests.support.review_helpers import read_audit

    redis_port = free_port()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    store = f"redis://127.0.0.1:{redis_port}/0"
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    args = (fake.url + "/v1", policy, store)
    journal = ("--audit-journal", str(tmp_path / "journal"))
    try:
        wait_port(redis_port, 10)
        serve = Serve(*args, tmp_path / "first.log", *journal).ready()
        client = serve.client()
        asked = [
            client.chat.completions.with_raw_response.create(model="m", messages=[{"role": "user", "content": "q"}])
        ]
        redis.send_signal(signal.SIGSTOP)  # Redis hangs: every write and read waits for good
        asked.append(
            client.chat.completions.with_raw_response.create(model="m", messages=[{"role": "user", "content": "r"}])
        )
        serve.proc.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        try:
            code = serve.proc.wait(90)
            print(f"exit took {time.monotonic() - t0:.1f}s")
        finally:
            redis.send_signal(signal.SIGCONT)
            serve.stop()
        assert code == 0, (tmp_path / "first.log").read_text()[-3000:]
        assert "did not finish within" in (tmp_path / "first.log").read_text()  # the step that hung is named
        Serve(*args, tmp_path / "second.log", *journal, port=serve.port).ready().stop()  # replays, then stops
        recorded = [r["request_id"] for r in read_audit(store) if not r.get("kind")]
        assert sorted(recorded) == sorted(a.headers["x-llmvet-request-id"] for a in asked)
    finally:
        redis.send_signal(signal.SIGCONT)
        redis.terminate()
        redis.wait(10)
