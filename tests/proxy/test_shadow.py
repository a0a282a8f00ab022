"""A shadow policy: decides the same answers off the response path, never enforced, compared in the audit."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import time
from pathlib import Path

import httpx
import openai
import orjson

from tests.support.fake_upstream import Reply
from tests.support.review_helpers import read_audit

ENFORCED = """\
name: live
rules:
  - name: secrets
    validators: [{use: regex, with: {must_not_match: ["SECRET"]}}]
    on_fail: annotate
"""
CANDIDATE = """\
name: candidate
rules:
  - name: secrets-strict
    validators:
      - {use: regex, with: {must_not_match: ["SECRET"]}}
      - {use: sleepy, with: {seconds: %s}}
    on_fail: block
"""
LEAK = "the SECRET is out"


def version(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def shadow_records(store: str, want: int, timeout: float = 10.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        found = [r for r in read_audit(store) if r.get("kind") == "shadow"]
        if len(found) >= want or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_shadow_decides_the_same_answers_off_the_response_path(fake, make_proxy, test_plugin, tmp_path: Path):
    fake.reset(lambda b: Reply(text=LEAK if b["messages"][-1]["content"].startswith("leak") else "all clear"))
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text(CANDIDATE % 0.6)
    server = make_proxy(ENFORCED, shadow_policy=str(candidate))
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)
    prompts = ["leak 1", "clear 1", "leak 2", "clear 2", "leak 3"]
    sent: dict[str, str] = {}
    for prompt in prompts:
        raw = client.chat.completions.with_raw_response.create(
            model="m", messages=[{"role": "user", "content": prompt}]
        )
        # enforced only: a leak is annotated (the candidate would block), and the client gets the answer
        assert raw.headers["x-llmvet-policy"] == f"live@{version(ENFORCED)}"
        assert raw.headers["x-llmvet-decision"] == ("annotate" if prompt.startswith("leak") else "allow")
        if prompt.startswith("leak"):
            assert "SECRET" in raw.parse().choices[0].message.content
        sent[raw.headers["x-llmvet-request-id"]] = prompt
    store = server.proxy.settings.store
    # The candidate's sleepy validator takes 0.6 s a check: the last response came before its shadow record.
    assert not any(
        r.get("kind") == "shadow" and r["request_id"] == raw.headers["x-llmvet-request-id"] for r in read_audit(store)
    )

    records = shadow_records(store, len(prompts))
    assert sorted(r["request_id"] for r in records) == sorted(sent)
    enforced = {r["request_id"]: r for r in read_audit(store) if not r.get("kind")}
    for r in records:
        assert r["policy"] == "candidate" and r["policy_version"] == version(CANDIDATE % 0.6)
        assert r["rule"] == "secrets-strict"
        assert r["enforced_action"] == enforced[r["request_id"]]["action"]
        assert r["action"] == ("block" if sent[r["request_id"]].startswith("leak") else "allow")
    assert len(fake.requests) == len(prompts)  # the shadow never asked upstream

    for command in (["report", "--shadow"], ["audit", "shadow"]):  # `audit shadow` is an alias
        result = subprocess.run(
            ["llmvet", *command, "--json", "--store", store], capture_output=True, env=os.environ, timeout=60
        )
        assert result.returncode == 0, result.stderr
        diff = orjson.loads(result.stdout)
        assert diff["compared"] == 5 and diff["differ"] == 3
        assert diff["candidates"] == [f"candidate@{version(CANDIDATE % 0.6)}"]
        [change] = diff["changes"]
        assert (change["rule"], change["code"], change["change"], change["count"]) == (
            "secrets-strict",
            "regex.must_not_match",
            "would block",
            3,
        )
        assert (change["enforced"], change["shadow"]) == ("annotate", "block")
        assert change["rate"] == 3 / 5
        assert set(change["examples"]) <= {rid for rid, p in sent.items() if p.startswith("leak")}
    table = subprocess.run(
        ["llmvet", "report", "--shadow", "--store", store],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=60,
    )
    assert "3 of 5" in table.stdout and "secrets-strict" in table.stdout and "would block" in table.stdout


async def test_a_full_shadow_queue_drops_and_counts_without_blocking(fake, make_proxy, test_plugin, tmp_path: Path):
    fake.reset(lambda b: Reply(text=LEAK))
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text(CANDIDATE % 0.5)
    server = make_proxy(ENFORCED, shadow_policy=str(candidate), shadow_max_pending=2)
    client = openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)
    results = await asyncio.gather(
        *(
            client.chat.completions.with_raw_response.create(model="m", messages=[{"role": "user", "content": f"q{i}"}])
            for i in range(12)
        )
    )
    await client.close()
    assert [r.headers["x-llmvet-decision"] for r in results] == ["annotate"] * 12  # every request served
    status = httpx.get(server.url + "/readyz").json()["shadow"]
    deadline = time.monotonic() + 10
    while status["checked"] + status["dropped"] < 12 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        status = httpx.get(server.url + "/readyz").json()["shadow"]
    assert status["checked"] + status["dropped"] == 12 and status["dropped"] > 0
    records = await asyncio.to_thread(shadow_records, server.proxy.settings.store, status["checked"])
    assert len(records) == status["checked"]


def test_the_shadow_never_reasks_upstream(fake, make_proxy, tmp_path: Path):
    """A candidate whose validator needs extra samples (consistency) gets none: no upstream cost."""
    fake.reset(lambda b: Reply(text="Paris is the capital of France. It lies on the Seine."))
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text(
        "name: candidate\nrules:\n  - name: sampled\n    validators:\n"
        "      - use: consistency\n"
        "        with: {samples: 2, semantic_weight: 0, questions: any}\n"
        "    on_error: open\n"
    )
    server = make_proxy(ENFORCED, shadow_policy=str(candidate))
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="m", messages=[{"role": "user", "content": "What is the capital of France?"}]
    )
    [record] = shadow_records(server.proxy.settings.store, 1)
    assert record["request_id"] == raw.headers["x-llmvet-request-id"]
    assert record["validators"][0]["status"] == "error" and record["action"] == "allow"  # on_error: open
    assert len(fake.requests) == 1  # only the client's own request went upstream


LOOSER = """\
name: looser
rules:
  - name: loose
    validators: [{use: regex, with: {must_not_match: ["PASSWORD"]}}]
    on_fail: escalate
"""


def test_breakdown_per_rule_and_finding_code_on_the_dashboard(fake, make_proxy, tmp_path: Path):
    """A candidate that drops one check and adds another: would allow (explained by the enforced
    finding code) and would escalate (by its own), in `report --shadow` and on the dashboard page."""
    import playwright.sync_api as playwright

    from tests.observe.test_proxy import reviewer_headers
    from tests.support.browser import launch

    texts = {"a": LEAK, "b": "my PASSWORD is hunter2", "c": "fine", "d": LEAK}
    fake.reset(lambda b: Reply(text=texts[b["messages"][-1]["content"]]))
    candidate = tmp_path / "looser.yaml"
    candidate.write_text(LOOSER)
    server = make_proxy(ENFORCED, shadow_policy=str(candidate))
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)
    ids = {}
    for prompt in texts:
        raw = client.chat.completions.with_raw_response.create(
            model="m", messages=[{"role": "user", "content": prompt}]
        )
        ids[prompt] = raw.headers["x-llmvet-request-id"]
    store = server.proxy.settings.store
    assert len(shadow_records(store, 4)) == 4
    result = subprocess.run(
        ["llmvet", "report", "--shadow", "--json", "--store", store], capture_output=True, env=os.environ, timeout=60
    )
    diff = orjson.loads(result.stdout)
    rows = {(c["rule"], c["code"], c["change"]): c for c in diff["changes"]}
    assert set(rows) == {
        ("loose", "regex.must_not_match", "would allow"),
        ("loose", "regex.must_not_match", "would escalate"),
    }
    allow = rows[("loose", "regex.must_not_match", "would allow")]
    assert (allow["enforced"], allow["count"], allow["rate"]) == ("annotate", 2, 2 / 4)
    assert sorted(allow["examples"]) == sorted([ids["a"], ids["d"]])
    escalate = rows[("loose", "regex.must_not_match", "would escalate")]
    assert (escalate["enforced"], escalate["count"], escalate["examples"]) == ("allow", 1, [ids["b"]])

    with playwright.sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_context(extra_http_headers=reviewer_headers(server)).new_page()
            resp = page.goto(server.url + "/review/dashboard")
            assert resp is not None and resp.status == 200
            assert "3 of 4" in page.locator("#shadow-summary").inner_text()
            shown = page.locator("#shadow tr.shadow-row")
            assert shown.count() == 2
            cells = [shown.nth(i).locator("td").all_inner_texts() for i in range(2)]
            assert cells[0][:6] == ["loose", "regex.must_not_match", "would allow", "annotate → allow", "2", "50.0%"]
            assert cells[1][:6] == ["loose", "regex.must_not_match", "would escalate", "allow → escalate", "1", "25.0%"]
            assert cells[1][6] == ids["b"]
        finally:
            browser.close()
