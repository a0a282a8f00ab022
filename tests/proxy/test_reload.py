"""Policy reload without restart: the admin endpoint, SIGHUP, a refused file, requests in flight."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import openai
import pytest

from tests.support.fake_upstream import Reply
from tests.support.metrics import metric_value, parse_metrics
from tests.support.review_helpers import read_audit
from tests.support.servers import free_port, wait_port

TOKEN = "admin-token-for-tests"
RELOAD = "/llmvet/v1/admin/policy/reload"
POLICY = """\
name: reload-test
rules:
  - name: secrets
    validators:
      - use: regex
        with: {{must_not_match: ["SECRET"]}}
      - use: regex
        id: second
        with: {{must_not_match: ["{second}"]}}
    on_fail: {action}
"""
ANNOTATE = POLICY.format(action="annotate", second="NEVER-SEEN")
BLOCK = POLICY.format(action="block", second="NEVER-SEEN")
BLOCK_NEW_SECOND = POLICY.format(action="block", second="OTHER")
# Two problems on known lines: an unknown action (line 10) and an unknown validator (line 5).
BROKEN = ANNOTATE.replace("on_fail: annotate", "on_fail: explode").replace(
    "use: regex\n        with", "use: regexx\n        with", 1
)
LEAK = "the SECRET is out"


def version(text: str) -> str:
    """The version a policy text is served under (its content hash), computed here independently."""
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def ask(url: str):
    client = openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
    return client.chat.completions.with_raw_response.create(model="m", messages=[{"role": "user", "content": "x"}])


def reload(url: str, token: str | None = TOKEN) -> httpx.Response:
    # bytes: a non-ASCII token goes out as is (anyone may send one)
    headers = {"authorization": f"Bearer {token}".encode()} if token is not None else {}
    return httpx.post(url + RELOAD, headers=headers, timeout=30)


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(ANNOTATE)
    return path


def start(make_proxy, policy_file: Path, **settings):
    return make_proxy(policy_file.read_text(), policy=str(policy_file), **settings)


def test_reload_endpoint_changes_decisions_and_reuses_unchanged_validators(fake, make_proxy, policy_file):
    fake.reset(lambda b: Reply(text=LEAK))
    server = start(make_proxy, policy_file, admin_token=TOKEN)
    raw = ask(server.url)
    assert raw.headers["x-llmvet-decision"] == "annotate"
    assert raw.headers["x-llmvet-policy"] == f"reload-test@{version(ANNOTATE)}"
    first, second = (cv.instance for cv in server.proxy.policy.rules[0].validators)

    policy_file.write_text(BLOCK_NEW_SECOND)
    r = reload(server.url)
    assert r.status_code == 200, r.text
    assert r.json()["policy"] == f"reload-test@{version(BLOCK_NEW_SECOND)}"
    assert r.json()["validators_reused"] == 1 and r.json()["validators_new"] == 1
    now = server.proxy.policy.rules[0].validators
    assert now[0].instance is first  # same settings: the instance (and its state) is kept
    assert now[1].instance is not second  # changed settings: built anew

    blocked = httpx.post(
        server.url + "/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "x"}]}
    )
    assert blocked.status_code == 422 and b"SECRET" not in blocked.content  # raw bytes: the leak stays out
    assert blocked.headers["x-llmvet-policy"] == f"reload-test@{version(BLOCK_NEW_SECOND)}"
    ready = httpx.get(server.url + "/readyz").json()
    assert ready["policy"] == f"reload-test@{version(BLOCK_NEW_SECOND)}"
    samples = parse_metrics(httpx.get(server.url + "/metrics").text)
    assert metric_value(samples, "llmvet_policy_info", policy="reload-test", version=version(BLOCK_NEW_SECOND)) == 1
    assert metric_value(samples, "llmvet_policy_info", policy="reload-test", version=version(ANNOTATE)) == 0


def test_reload_endpoint_needs_the_admin_token(fake, make_proxy, policy_file, tmp_path):
    fake.reset(lambda b: Reply(text=LEAK))
    server = start(make_proxy, policy_file, admin_token=TOKEN)
    policy_file.write_text(BLOCK)
    for token in (None, "wrong", TOKEN + "x", TOKEN[:-1], "é" * 8):
        r = reload(server.url, token)
        assert r.status_code == 401, (token, r.text)
        assert r.json()["error"]["type"] == "invalid_request_error"
    assert ask(server.url).headers["x-llmvet-policy"] == f"reload-test@{version(ANNOTATE)}"  # nothing reloaded

    off = make_proxy(ANNOTATE, policy=str(policy_file))  # no admin token set: the endpoint is off
    assert reload(off.url, None).status_code == 404
    assert reload(off.url, TOKEN).status_code == 404


def test_bad_policy_is_refused_and_the_old_one_keeps_serving(fake, make_proxy, policy_file):
    fake.reset(lambda b: Reply(text=LEAK))
    server = start(make_proxy, policy_file, admin_token=TOKEN)
    policy_file.write_text(BROKEN)
    r = reload(server.url)
    assert r.status_code == 422
    body = r.json()
    assert body["error"]["code"] == "policy_invalid" and body["error"]["type"] == "invalid_request_error"
    problems = body["problems"]
    assert f"{policy_file}:10: rules[0].on_fail:" in "\n".join(problems)
    assert any(p.startswith(f"{policy_file}:5: rules[0].validators[0].use:") for p in problems), problems
    assert all(p in body["error"]["message"] for p in problems)

    raw = ask(server.url)  # still the old policy, deciding as before
    assert raw.headers["x-llmvet-decision"] == "annotate"
    assert raw.headers["x-llmvet-policy"] == f"reload-test@{version(ANNOTATE)}"
    assert httpx.get(server.url + "/readyz").json()["policy"] == f"reload-test@{version(ANNOTATE)}"
    samples = parse_metrics(httpx.get(server.url + "/metrics").text)
    assert metric_value(samples, "llmvet_policy_reload_failures_total") == 1
    assert metric_value(samples, "llmvet_policy_info", version=version(ANNOTATE)) == 1  # still serving


async def test_a_request_in_flight_keeps_the_policy_it_started_with(fake, make_proxy, policy_file):
    fake.reset(lambda b: Reply(text=LEAK, delay=1.0 if b["messages"][-1]["content"] == "slow" else 0.0))
    server = start(make_proxy, policy_file, admin_token=TOKEN)
    client = openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)
    slow = asyncio.create_task(
        client.chat.completions.with_raw_response.create(model="m", messages=[{"role": "user", "content": "slow"}])
    )
    deadline = time.monotonic() + 10
    while not fake.requests and time.monotonic() < deadline:  # the slow one is upstream now
        await asyncio.sleep(0.01)
    assert fake.requests
    policy_file.write_text(BLOCK)
    async with httpx.AsyncClient() as http:
        r = await http.post(server.url + RELOAD, headers={"authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200, r.text
    assert not slow.done()  # the reload did not wait for it, nor cut it

    raw = await slow
    await client.close()
    assert raw.headers["x-llmvet-decision"] == "annotate"  # decided by the policy it started under
    assert raw.headers["x-llmvet-policy"] == f"reload-test@{version(ANNOTATE)}"
    assert raw.parse().model_extra["llmvet"]["policy"]["version"] == version(ANNOTATE)
    assert "SECRET" in raw.parse().choices[0].message.content
    request_id = raw.headers["x-llmvet-request-id"]

    after = httpx.post(
        server.url + "/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "x"}]}
    )
    assert after.status_code == 422 and after.headers["x-llmvet-policy"] == f"reload-test@{version(BLOCK)}"
    await asyncio.sleep(0.4)  # audit records are written in batches
    store = server.proxy.settings.store
    records = {r["request_id"]: r for r in await asyncio.to_thread(read_audit, store) if not r.get("kind")}
    assert records[request_id]["policy_version"] == version(ANNOTATE)
    assert records[after.headers["x-llmvet-request-id"]]["policy_version"] == version(BLOCK)


def test_sighup_reloads_a_running_serve(fake, tmp_path, policy_file):
    """The real signal to a real `llmvet serve`: a good file is taken, a bad one refused (and logged)."""
    fake.reset(lambda b: Reply(text=LEAK))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        ["llmvet", "serve", "--port", str(port), "--policy", str(policy_file)],
        cwd=tmp_path,
        env={**os.environ, "LLMVET_UPSTREAM": fake.url + "/v1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_port(port, 30)
        assert ask(url).headers["x-llmvet-decision"] == "annotate"

        def serving_after_sighup(expected: str) -> str:
            proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                serving = httpx.get(url + "/readyz").json()["policy"]
                if serving == expected:
                    break
                time.sleep(0.05)
            return serving

        policy_file.write_text(BLOCK)
        assert serving_after_sighup(f"reload-test@{version(BLOCK)}") == f"reload-test@{version(BLOCK)}"
        with pytest.raises(openai.UnprocessableEntityError) as blocked:
            ask(url)
        assert b"SECRET" not in blocked.value.response.content

        policy_file.write_text(BROKEN)
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)  # a refused file changes nothing to wait for; give the reload its moment
        assert httpx.get(url + "/readyz").json()["policy"] == f"reload-test@{version(BLOCK)}"
        with pytest.raises(openai.UnprocessableEntityError):
            ask(url)  # the last good policy still decides
    finally:
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=15)[0]
    assert f"policy reload refused: {policy_file}:10: rules[0].on_fail:" in output
    assert "Traceback" not in output


def test_a_held_review_item_decided_after_a_reload_keeps_its_policy(make_proxy, fake, tmp_path, monkeypatch):
    from tests.support.review_helpers import ANSWER, InThread, add_reviewer, policy, wait_for_item

    monkeypatch.setenv("LLMVET_REVIEW_POLL_INTERVAL", "0.05")
    fake.reset(lambda body: Reply(text=ANSWER))
    store = f"sqlite:///{tmp_path / 'review.db'}"
    held_policy, path = policy(), tmp_path / "review-policy.yaml"
    path.write_text(held_policy)
    server = make_proxy(held_policy, store=store, policy=str(path), admin_token=TOKEN)
    reviewer = add_reviewer(store, "alice")
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0, timeout=30)
    call = InThread(
        lambda: client.chat.completions.with_raw_response.create(
            model="m", messages=[{"role": "user", "content": "How do I vectorize a dataframe?"}]
        )
    )
    item = wait_for_item(server.url, reviewer)
    full = httpx.get(
        f"{server.url}/llmvet/v1/reviews/{item['id']}", headers={"authorization": f"Bearer {reviewer}"}
    ).json()
    assert full["policy_version"] == version(held_policy)

    path.write_text(held_policy.replace("name: review-test", "name: review-test-2"))
    assert reload(server.url).status_code == 200
    approve = httpx.post(
        f"{server.url}/llmvet/v1/reviews/{item['id']}/approve", headers={"authorization": f"Bearer {reviewer}"}
    )
    assert approve.status_code == 200, approve.text
    raw = call.result()
    assert raw.headers["x-llmvet-review-status"] == "approved"
    assert raw.headers["x-llmvet-policy"] == f"review-test@{version(held_policy)}"  # the policy it was held under
    time.sleep(0.4)  # audit records are written in batches
    mine = [r for r in read_audit(store) if r.get("request_id") == raw.headers["x-llmvet-request-id"]]
    assert mine and {(r["policy"], r["policy_version"]) for r in mine} == {("review-test", version(held_policy))}
