"""An upstream error's text is vetted too: the SDKs put it in the exception an app shows or logs.

A hostile upstream answers 4xx/5xx with an AWS-style key in its error message (plainly, JSON-escaped,
in a nested field, in a key, or as a plain-text body). A blocking policy must keep every byte of it
from the client, on every path that vets; an annotating one relays the error with the `llmvet` field;
`stream.mode: passthrough` relays it untouched but audits the finding.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import openai
import pytest

from tests.support.fake_upstream import Reply
from tests.support.raw_upstream import RawUpstream, http_response
from tests.support.review_helpers import read_audit

KEY = "AKIA" + "ZXCVBNMQWERTYUIO"  # assembled so this file does not itself look like a leaked key
POLICY = """
version: 1
name: error-guard
rules:
  - name: no-keys
    match: {{models: ["*"]}}
    validators:
      - use: regex
        with: {{must_not_match: ["AKIA[0-9A-Z]{{16}}"]}}
    on_fail: {action}
    stream: {{mode: {mode}}}
"""
CHAT = {"model": "m", "messages": [{"role": "user", "content": "q"}]}


def guard(make_proxy: Any, action: str = "block", mode: str = "auto", **settings: Any) -> Any:
    return make_proxy(POLICY.format(action=action, mode=mode), **settings)


def error_with(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "code": None}}


def hiding_places() -> dict[str, dict[str, Any]]:
    return {
        "message": error_with(f"bad request, try {KEY}"),
        "nested": {"error": {"message": "no", "details": [{"hint": {"deep": f"use {KEY}"}}]}},
        "key": {"error": {"message": "no", "param": {KEY: 1}}},
    }


@pytest.mark.parametrize("where", ["message", "nested", "key"])
@pytest.mark.parametrize("stream", [False, True])
def test_a_key_in_an_upstream_error_is_blocked(fake, make_proxy, where, stream):
    proxy = guard(make_proxy)
    fake.reset(lambda b: Reply(status=400, error=hiding_places()[where]))
    r = httpx.post(proxy.url + "/v1/chat/completions", json={**CHAT, "stream": stream}, timeout=30)
    assert KEY.encode() not in r.content and KEY[:10].encode() not in r.content
    assert r.status_code == 422 and r.headers["x-llmvet-decision"] == "block"
    assert r.json()["error"]["code"] == "blocked_by_policy"
    assert "the upstream's error" in r.json()["error"]["message"]


def test_a_json_escaped_key_is_read_as_the_sdk_reads_it(fake, make_proxy):
    escaped = "".join(f"\\u{ord(c):04x}" for c in KEY)  # JSON readers (the SDK's too) decode it
    body = '{"error": {"message": "' + escaped + '", "type": "x"}}'
    with RawUpstream(
        lambda request: http_response("400 Bad Request", [("Content-Type", "application/json")], body.encode())
    ) as upstream:
        proxy = guard(make_proxy, upstream=upstream.url + "/v1")
        client = openai.OpenAI(base_url=proxy.url + "/v1", api_key="k", max_retries=0)
        with pytest.raises(openai.APIStatusError) as caught:
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "q"}])
    assert caught.value.status_code == 422
    assert KEY not in str(caught.value) and KEY not in caught.value.response.text


def test_a_plain_text_error_body_is_vetted_too(make_proxy):
    with RawUpstream(
        lambda request: http_response("503 Busy", [("Content-Type", "text/plain")], f"down, key {KEY}".encode())
    ) as up:
        proxy = guard(make_proxy, upstream=up.url + "/v1")
        r = httpx.post(proxy.url + "/v1/chat/completions", json=CHAT, timeout=30)
    assert KEY.encode() not in r.content and r.status_code == 422


@pytest.mark.parametrize("action", ["reask", "escalate"])
def test_actions_an_error_cannot_honour_block(fake, make_proxy, action):
    proxy = guard(make_proxy, action=action)
    fake.reset(lambda b: Reply(status=500, error=error_with(f"oops {KEY}")))
    r = httpx.post(proxy.url + "/v1/chat/completions", json=CHAT, timeout=30)
    assert KEY.encode() not in r.content and r.status_code == 422
    assert len(fake.requests) == 1  # no re-ask for an error


def test_annotate_relays_the_error_with_the_finding(fake, make_proxy):
    proxy = guard(make_proxy, action="annotate")
    fake.reset(lambda b: Reply(status=400, error=error_with(f"bad {KEY}")))
    client = openai.OpenAI(base_url=proxy.url + "/v1", api_key="k", max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "q"}])
    body = caught.value.response.json()
    assert body["error"]["message"] == f"bad {KEY}"  # annotate changes no text, as for answers
    assert body["llmvet"]["decision"] == "annotate"
    assert [f["evidence"]["part"] for f in body["llmvet"]["findings"]] == ["error"]
    assert caught.value.response.headers["x-llmvet-decision"] == "annotate"


def test_a_clean_error_is_relayed_byte_for_byte(fake, make_proxy):
    proxy = guard(make_proxy)
    error = error_with("model overloaded, retry later")
    fake.reset(lambda b: Reply(status=429, error=error))
    r = httpx.post(proxy.url + "/v1/chat/completions", json=CHAT, timeout=30)
    direct = httpx.post(fake.url + "/v1/chat/completions", json=CHAT, timeout=30)
    assert r.status_code == 429 and r.content == direct.content
    assert "x-llmvet-decision" not in r.headers


def test_passthrough_relays_the_error_and_audits_the_finding(fake, make_proxy, tmp_path):
    store = f"sqlite:///{tmp_path / 'audit.db'}"
    proxy = guard(make_proxy, mode="passthrough", store=store)
    error = error_with(f"bad {KEY}")
    fake.reset(lambda b: Reply(status=400, error=error))
    r = httpx.post(proxy.url + "/v1/chat/completions", json={**CHAT, "stream": True}, timeout=30)
    assert r.status_code == 400 and r.json() == error  # audit only: passthrough changes nothing
    records = wait_for_records(store, 1)
    (record,) = records
    assert record["status"] == 400 and record["action"] == "upstream_error"
    assert record["policy_action"] == "block"  # what the policy would have done
    assert [f["code"] for f in record["findings"]] == ["regex.must_not_match"]


def test_a_blocked_error_is_audited(fake, make_proxy, tmp_path):
    store = f"sqlite:///{tmp_path / 'audit.db'}"
    proxy = guard(make_proxy, store=store)
    fake.reset(lambda b: Reply(status=500, error=error_with(f"oops {KEY}")))
    assert httpx.post(proxy.url + "/v1/chat/completions", json=CHAT, timeout=30).status_code == 422
    (record,) = wait_for_records(store, 1)
    assert record["action"] == "block" and record["status"] == 422
    assert record["findings"][0]["evidence"]["part"] == "error"


def wait_for_records(store: str, n: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while len(records := read_audit(store)) < n:
        assert time.monotonic() < deadline, records
        time.sleep(0.1)
    return records
