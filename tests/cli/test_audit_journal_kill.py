"""kill -9 of a real `llmvet serve` right after its answers returned, then a restart: every answered
request's audit record is in the store exactly once (SQLite and a real redis-server). Without the journal
the records of the last flush interval (0.2 s) die with the process."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_serve_shutdown import POLICY  # one rule no answer fails: every answer is vetted and audited
from tests.review.test_processes import Serve
from tests.support.review_helpers import read_audit


def replay_line(serve: Serve, deadline: float) -> str:
    while time.monotonic() < deadline:
        lines = [ln for ln in serve._logfile.read_text().splitlines() if "replayed:" in ln]
        if lines:
            return lines[-1]
        time.sleep(0.05)
    raise AssertionError(f"no replay line in {serve._logfile}")


@pytest.mark.timeout(90)
@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_kill_9_right_after_the_answers_loses_and_duplicates_no_audit_record(backend, fake, tmp_path, request):
    if backend == "redis":
        import redis

        store = request.getfixturevalue("redis_url")
        redis.Redis.from_url(store).flushdb()
    else:
        store = f"sqlite:///{tmp_path / 'llmvet.db'}"
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    args = ("--audit-journal", str(tmp_path / "journal"))
    first = Serve(fake.url + "/v1", policy, store, tmp_path / "first.log", *args).ready()
    try:
        answered = request_ids(first.client(), 120)
    finally:
        first.kill()  # right after the last answer: its batch is still in memory (and in the journal)
    before = Counter(r["request_id"] for r in read_audit(store))
    print(f"\nbefore the restart: {len(answered) - len(before)} of {len(answered)} records not in the store")

    second = Serve(fake.url + "/v1", policy, store, tmp_path / "second.log", *args, port=first.port).ready()
    try:
        line = replay_line(second, time.monotonic() + 20)
    finally:
        second.stop()
    recorded = Counter(r["request_id"] for r in read_audit(store) if not r.get("kind"))
    written = int(line.split("replayed: ")[1].split()[0])
    assert written == len(answered) - len(before), line  # exactly what the crash had not written
    assert sorted(recorded) == sorted(answered) and set(recorded.values()) == {1}, recorded.most_common(3)


def request_ids(client: Any, n: int) -> list[str]:
    """Ask `n` questions, 8 at a time; the request id of each answer."""

    def ask(i: int) -> str:
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-x", messages=[{"role": "user", "content": f"q{i}"}]
        )
        return raw.headers["x-llmvet-request-id"]

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(ask, range(n)))


def holders(journal: Path) -> list[int]:
    """The pids holding the journal's slots (each lock file names its holder)."""
    return sorted(int(t) for lock in journal.glob("*/worker-*/lock") if (t := lock.read_text().strip()))


@pytest.mark.timeout(120)
def test_a_worker_killed_9_is_restarted_and_replays_its_journal(fake, tmp_path, redis_url):
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    journal = tmp_path / "journal"
    serve = Serve(fake.url + "/v1", policy, redis_url, tmp_path / "serve.log", "--workers", "2",
                  "--audit-journal", str(journal)).ready()  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while len(pids := holders(journal)) < 2:  # both workers took their slot
            assert time.monotonic() < deadline, pids
            time.sleep(0.1)
        assert len(pids) == 2 and serve.proc.pid not in pids, pids
        answered = request_ids(serve.client(), 160)
        os.kill(pids[0], signal.SIGKILL)  # right after the answers: uvicorn starts a new worker
        line = replay_line(serve, time.monotonic() + 30)
        deadline = time.monotonic() + 10
        while set(answered) - {r["request_id"] for r in read_audit(redis_url)}:  # the live worker's flush
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert len(set(holders(journal)) - set(pids)) == 1  # the new worker holds the dead one's slot
    finally:
        serve.stop()
    recorded = Counter(r["request_id"] for r in read_audit(redis_url) if not r.get("kind"))
    assert sorted(recorded) == sorted(answered) and set(recorded.values()) == {1}, recorded.most_common(3)
    print(f"\n{line}")
