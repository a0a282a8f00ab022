"""Kept answer text, `audit export` with it, and `policy replay` reproducing the live decisions."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx
import openai
import orjson
import pytest

from tests.support.fake_upstream import Reply
from tests.support.review_helpers import read_audit

POLICY = r"""
name: replayed
rules:
  - name: answers
    validators:
      - {use: regex, with: {must_not_match: ["SECRET"]}, on_fail: annotate}
      - {use: regex, id: cites, with: {must_match: ['\[\d+\]']}, on_fail: block}
"""
TEXTS = {"ok": "fine [1]", "nocite": "fine", "leak": "the SECRET [1]", "two": ["fine [2]", "fine"]}


def llmvet(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["llmvet", *args], capture_output=True, env=os.environ, timeout=120)


def send(url: str, prompt: str, stream: bool = False) -> httpx.Response:
    body = {"model": "m", "messages": [{"role": "user", "content": prompt}], "stream": stream}
    if prompt == "two":
        body["n"] = 2
    return httpx.post(url + "/v1/chat/completions", json=body, timeout=30)


@pytest.fixture
def recorded(fake, make_proxy, tmp_path: Path):
    """A proxy keeping every answer's text; a mix of answers; the audit exported with their texts."""
    fake.reset(lambda b: Reply(text=TEXTS[b["messages"][-1]["content"]]))
    server = make_proxy(POLICY, audit_keep_text="sample 1.0")
    decisions = {}
    for prompt in TEXTS:
        for stream in (False, True):
            r = send(server.url, prompt, stream)
            decisions[r.headers["x-llmvet-request-id"]] = r.headers["x-llmvet-decision"]
    store = server.proxy.settings.store
    deadline = time.monotonic() + 10
    while len([r for r in read_audit(store) if not r.get("kind")]) < len(decisions) and time.monotonic() < deadline:
        time.sleep(0.1)
    export = tmp_path / "export.jsonl"
    r = llmvet("audit", "export", "--since", "1h", "-o", str(export), "--store", store)
    assert r.returncode == 0, r.stderr
    return export, decisions


def test_replay_of_the_unchanged_policy_reproduces_every_live_decision(recorded, tmp_path: Path):
    export, decisions = recorded
    raw = export.read_bytes()
    records = [orjson.loads(line) for line in raw.splitlines()]
    assert {r["request_id"] for r in records} == set(decisions)
    assert all(r.get("text_kept") and r["text"]["parts"] for r in records)
    assert b"the SECRET [1]" not in raw  # the secret was redacted before it was kept
    two = next(r for r in records if len(r["text"]["parts"]) == 2)
    assert [p["text"] for p in two["text"]["parts"]] == TEXTS["two"]
    # The live policy_action of every answer, from the audit itself (the replay must reproduce it).
    live = {r["request_id"]: r["policy_action"] for r in records}
    assert set(live.values()) == {"allow", "block", "annotate"}

    policy = tmp_path / "same.yaml"
    policy.write_text(POLICY)
    r = llmvet("policy", "replay", str(policy), "--audit", str(export), "--json")
    assert r.returncode == 0, r.stderr
    result = orjson.loads(r.stdout)
    redacted = [rid for rid, rec in ((x["request_id"], x) for x in records) if rec["text"]["redacted"]]
    assert len(redacted) == 2  # the leak, as JSON and as a stream
    assert result["replay"]["redacted"] == 2 and result["replay"]["without_text"] == 0
    assert result["compared"] == result["replay"]["replayed"] == len(decisions) - 2
    assert result["differ"] == 0 and result["changes"] == []  # exactly the live decisions
    assert result["replay"]["answers_per_second"] > 0
    assert "answers/s" in r.stderr.decode()


def test_replay_of_a_candidate_prints_the_shadow_diff(recorded, tmp_path: Path):
    export, _ = recorded
    records = [orjson.loads(line) for line in export.read_bytes().splitlines()]
    blocked = sorted(r["request_id"] for r in records if r["policy_action"] == "block")
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text(POLICY.replace("on_fail: block", "on_fail: annotate").replace("replayed", "softer"))
    r = llmvet("policy", "replay", str(candidate), "--audit", str(export), "--json")
    result = orjson.loads(r.stdout)
    [change] = result["changes"]
    assert (change["rule"], change["code"], change["change"], change["enforced"]) == (
        "answers",
        "regex.must_match",
        "would annotate",
        "block",
    )
    assert change["count"] == len(blocked) == 4  # "nocite" and "two", JSON and stream
    assert set(change["examples"]) <= set(blocked)
    table = subprocess.run(
        ["llmvet", "policy", "replay", str(candidate), "--audit", str(export)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=120,
    )
    assert "4 of 6" in table.stdout and "would annotate" in table.stdout


def test_text_is_not_kept_by_default(fake, make_proxy, tmp_path: Path):
    fake.reset(lambda b: Reply(text="fine [1]"))
    server = make_proxy(POLICY)
    assert server.proxy.rt.keep_text is None
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "ok"}])
    time.sleep(0.5)
    [record] = [r for r in read_audit(server.proxy.settings.store) if not r.get("kind")]
    assert "text_kept" not in record and b"fine [1]" not in orjson.dumps(record)


def test_keep_text_setting_is_checked():
    from pydantic import ValidationError

    from llmvet.config import Settings

    for bad in ("sample", "sample 0", "sample 1.5", "all", "sample x"):
        with pytest.raises(ValidationError):
            Settings(audit_keep_text=bad)
    assert Settings(audit_keep_text=" sample 0.25 ").audit_keep_text == "sample 0.25"
