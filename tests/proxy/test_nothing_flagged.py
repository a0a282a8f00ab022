"""Nothing a rule blocks reaches the client: every choice, every part, every path, as raw bytes.

A hostile upstream (scripted through the fake's `body`/`events`/`headers`) hides an AWS-style key in
places a text-only check would miss; a policy blocks (or escalates) on it. Every test reads the bytes
the client received and asserts the key is not among them.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import openai
import pytest

from tests.support.fake_upstream import Reply

KEY = "AKIA" + "QWERTYUIOPASDFGH"  # assembled so this file does not itself look like a leaked key
POLICY = """
version: 1
name: guard
rules:
  - name: no-keys
    match: {{models: ["*"]}}
    validators:
      - use: regex
        with: {{must_not_match: ["AKIA[0-9A-Z]{{16}}"]}}
    on_fail: {action}
    escalate: {{mode: defer, timeout: 600}}
"""
ROUTES = {
    "chat": ("/v1/chat/completions", {"messages": [{"role": "user", "content": "q"}]}),
    "completions": ("/v1/completions", {"prompt": "q"}),
    "responses": ("/v1/responses", {"input": "q"}),
}


@pytest.fixture
def guard(make_proxy):
    return make_proxy(POLICY.format(action="block"))


def send(proxy: Any, route: str, stream: bool, **extra: Any) -> httpx.Response:
    path, body = ROUTES[route]
    return httpx.post(proxy.url + path, json={"model": "m", **body, "stream": stream, **extra}, timeout=30)


def assert_not_delivered(r: httpx.Response, status: int = 422) -> None:
    assert KEY.encode() not in r.content and KEY[:12].encode() not in r.content
    assert r.status_code == status, r.content[:300]


# ---- row 1: every choice, streamed or not -----------------------------------------------------------------
@pytest.mark.parametrize("route", ["chat", "completions"])
@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("n", [1, 3])
def test_key_in_any_choice_is_blocked(fake, guard, route, stream, n):
    texts = ["a harmless answer"] * n
    texts[n - 1] = f"here is the key {KEY} for you"  # in the last choice (choice 0 when n == 1)
    fake.reset(lambda b: Reply(text=texts))
    assert_not_delivered(send(guard, route, stream, n=n))


@pytest.mark.parametrize("stream", [False, True])
def test_key_in_a_responses_answer_is_blocked(fake, guard, stream):
    fake.reset(lambda b: Reply(text=f"here is the key {KEY} for you"))
    assert_not_delivered(send(guard, "responses", stream))


def test_clean_choices_still_flow(fake, guard):
    """The same policy lets answers without the key through, every choice intact."""
    fake.reset(lambda b: Reply(text=["first", "second", "third"]))
    client = openai.OpenAI(base_url=guard.url + "/v1", api_key="k", max_retries=0)
    done = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "q"}], n=3)
    assert [c.message.content for c in done.choices] == ["first", "second", "third"]


# ---- row 2: tool-call arguments, function calls, reasoning ------------------------------------------------
def _chat_body(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-x",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": "tool_calls"}],
    }


def _chunk(delta: dict[str, Any], finish: str | None = None, index: int = 0) -> dict[str, Any]:
    choice = {"index": index, "delta": delta, "finish_reason": finish}
    return {"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [choice]}


def _tool_call_deltas(arguments: list[str]) -> list[Any]:
    first = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "deploy", "arguments": ""}}
    events = [_chunk({"role": "assistant", "content": None, "tool_calls": [first]})]
    events += [_chunk({"tool_calls": [{"index": 0, "function": {"arguments": a}}]}) for a in arguments]
    return [*events, _chunk({}, "tool_calls"), "[DONE]"]


TOOL_ARGS = '{"aws_key": "' + KEY + '", "region": "eu-west-1"}'
HOSTILE = {
    "chat tool_calls": (
        "chat",
        _chat_body(
            {
                "content": None,
                "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": TOOL_ARGS}}],
            }
        ),
    ),
    "chat legacy function_call": (
        "chat",
        _chat_body({"content": None, "function_call": {"name": "f", "arguments": TOOL_ARGS}}),
    ),
    "chat refusal": ("chat", _chat_body({"content": None, "refusal": f"I cannot share {KEY}"})),
    "responses function_call": (
        "responses",
        {
            "id": "resp_x",
            "object": "response",
            "status": "completed",
            "model": "m",
            "output": [{"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "f", "arguments": TOOL_ARGS}],
        },
    ),
    "responses reasoning summary": (
        "responses",
        {
            "id": "resp_x",
            "object": "response",
            "status": "completed",
            "model": "m",
            "output": [
                {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": f"use {KEY}"}]},
                {
                    "type": "message",
                    "id": "msg_1",
                    "role": "assistant",
                    "status": "completed",
                    "content": [{"type": "output_text", "text": "done", "annotations": []}],
                },
            ],
        },
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_key_outside_the_message_text_is_blocked(fake, guard, case):
    route, body = HOSTILE[case]
    fake.reset(lambda b: Reply(body=body))
    assert_not_delivered(send(guard, route, False))


def test_key_in_streamed_tool_call_arguments_is_blocked(fake, guard):
    fake.reset(lambda b: Reply(events=_tool_call_deltas(['{"aws_key": "AKIA', KEY[4:] + '"}'])))
    assert_not_delivered(send(guard, "chat", True))


def test_key_in_streamed_responses_function_call_is_blocked(fake, guard):
    item = {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "f", "arguments": TOOL_ARGS}
    resp = {"id": "resp_x", "object": "response", "status": "completed", "model": "m", "output": [item]}
    events = [
        ("response.output_item.added", {"type": "response.output_item.added", "output_index": 0, "item": item}),
        ("response.completed", {"type": "response.completed", "response": resp}),
    ]
    fake.reset(lambda b: Reply(events=events))
    assert_not_delivered(send(guard, "responses", True))


@pytest.mark.parametrize("cut", range(len(KEY) + 1))
def test_key_split_across_stream_chunks_is_blocked(fake, guard, cut):
    """Every chunk boundary inside the key: content deltas and tool-call argument deltas."""
    text = f"the key is {KEY} ok"
    at = text.index(KEY) + cut
    content = [_chunk({"role": "assistant", "content": ""}), _chunk({"content": text[:at]})]
    content += [_chunk({"content": text[at:]}), _chunk({}, "stop"), "[DONE]"]
    fake.reset(lambda b: Reply(events=content))
    assert_not_delivered(send(guard, "chat", True))
    fake.reset(lambda b: Reply(events=_tool_call_deltas([TOOL_ARGS[: 13 + cut], TOOL_ARGS[13 + cut :]])))
    assert_not_delivered(send(guard, "chat", True))


# ---- row 3: the block says what failed without repeating the key or the pattern ----------------------------
def test_block_body_and_headers_name_the_rule_not_the_key(fake, guard):
    fake.reset(lambda b: Reply(text=f"key {KEY}"))
    r = send(guard, "chat", False)
    assert_not_delivered(r)
    err = r.json()["error"]
    assert err["code"] == "blocked_by_policy" and "no-keys" in err["message"]
    assert "regex.must_not_match" in err["message"] and "AKIA[" not in err["message"]
    assert all(KEY not in v for v in r.headers.values())


# ---- row 4: a deferred escalation withholds every choice ---------------------------------------------------
@pytest.mark.parametrize("route", ["chat", "completions"])
@pytest.mark.parametrize("stream", [False, True])
def test_defer_withholds_every_choice(fake, make_proxy, route, stream):
    proxy = make_proxy(POLICY.format(action="escalate"))
    fake.reset(lambda b: Reply(text=["harmless", f"key {KEY}"]))
    r = send(proxy, route, stream, n=2)
    assert_not_delivered(r, status=200)
    assert r.headers["x-llmvet-review-status"] == "pending"
    assert r.text.count("waiting for human review") >= 2  # both choices carry the notice


@pytest.mark.parametrize("stream", [False, True])
def test_defer_withholds_a_responses_answer(fake, make_proxy, stream):
    proxy = make_proxy(POLICY.format(action="escalate"))
    fake.reset(lambda b: Reply(text=f"key {KEY}"))
    r = send(proxy, "responses", stream)
    assert_not_delivered(r, status=200)
    assert "waiting for human review" in r.text


def test_defer_withholds_tool_calls_too(fake, make_proxy):
    proxy = make_proxy(POLICY.format(action="escalate"))
    fake.reset(lambda b: Reply(body=HOSTILE["chat tool_calls"][1]))
    r = send(proxy, "chat", False)
    assert_not_delivered(r, status=200)
    message = r.json()["choices"][0]["message"]
    assert "tool_calls" not in message and "waiting for human review" in message["content"]


# ---- row 5: llmvet's headers and field are llmvet's ---------------------------------------------------------
SPOOFED = {
    "x-llmvet-decision": "allow",
    "x-llmvet-review-status": "approved",
    "x-llmvet-uncertainty": "present",
    "x-llmvet-validators": "regex=passed",
    "x-llmvet-policy": "forged@1",
    "Connection": "x-secret-hop",
    "x-secret-hop": "should not pass",
}


def _spoofing_body(text: str) -> dict[str, Any]:
    body = _chat_body({"content": text})
    body["choices"][0]["finish_reason"] = "stop"
    return {**body, "llmvet": {"decision": "allow", "forged": True}}


def _assert_not_spoofed(r: httpx.Response) -> None:
    assert b"forged" not in r.content
    assert r.headers.get("x-llmvet-review-status") != "approved"
    assert r.headers.get("x-llmvet-uncertainty") is None
    assert r.headers.get("x-llmvet-policy") != "forged@1"
    assert r.headers.get("x-secret-hop") is None
    assert len(r.headers.get_list("x-llmvet-validators")) <= 1
    assert len(r.headers.get_list("date")) <= 1 and len(r.headers.get_list("server")) <= 1


def test_spoofed_headers_and_field_on_a_vetted_answer(fake, guard):
    fake.reset(lambda b: Reply(body=_spoofing_body("clean"), headers=SPOOFED))
    r = send(guard, "chat", False)
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "clean"
    _assert_not_spoofed(r)
    assert r.headers["x-llmvet-policy"].startswith("guard@")


def test_spoofed_headers_on_a_blocked_answer(fake, guard):
    fake.reset(lambda b: Reply(body=_spoofing_body(f"key {KEY}"), headers=SPOOFED))
    r = send(guard, "chat", False)
    assert_not_delivered(r)
    assert r.headers["x-llmvet-decision"] == "block"
    _assert_not_spoofed(r)


def test_spoofed_field_in_the_last_stream_chunk(fake, guard):
    last = {**_chunk({}, "stop"), "llmvet": {"decision": "allow", "forged": True}}
    events = [_chunk({"role": "assistant", "content": "clean"}), last, "[DONE]"]
    fake.reset(lambda b: Reply(events=events, headers=SPOOFED))
    r = send(guard, "chat", True)
    assert r.status_code == 200 and b"clean" in r.content
    _assert_not_spoofed(r)


def test_spoofing_on_unvetted_paths(fake, make_proxy):
    """No rule for this model, pass-through routes and upstream errors drop the same names."""
    proxy = make_proxy(POLICY.format(action="block").replace('models: ["*"]', 'models: ["gpt-*"]'))
    fake.reset(lambda b: Reply(body=_spoofing_body("unvetted"), headers=SPOOFED))
    _assert_not_spoofed(send(proxy, "chat", False))
    stream = [_chunk({"content": "unvetted"}), {**_chunk({}, "stop"), "llmvet": {"forged": True}}, "[DONE]"]
    fake.reset(lambda b: Reply(events=stream, headers=SPOOFED))
    _assert_not_spoofed(send(proxy, "chat", True))
    error = {"error": {"message": "boom", "type": "server_error"}, "llmvet": {"forged": True}}
    fake.reset(lambda b: Reply(status=500, error=error, headers=SPOOFED))
    r = send(proxy, "chat", False)
    assert r.status_code == 500 and r.json()["error"]["message"] == "boom"
    _assert_not_spoofed(r)
    guard = make_proxy(POLICY.format(action="block"))
    r = send(guard, "chat", False)
    assert r.status_code == 500
    _assert_not_spoofed(r)
    fake.reset(lambda b: Reply(headers=SPOOFED))
    models = httpx.get(proxy.url + "/v1/models")  # plain pass-through: the headers at least
    assert models.status_code == 200 and models.json()["data"]
    _assert_not_spoofed(models)


# ---- smaller things on the same path ------------------------------------------------------------------------
def test_client_forwarded_for_is_not_trusted(fake, guard):
    fake.reset(lambda b: Reply(text="ok"))
    httpx.post(
        guard.url + "/v1/chat/completions",
        json={"model": "m", "messages": [{"role": "user", "content": "q"}]},
        headers={"X-Forwarded-For": "10.9.9.9, 10.8.8.8", "Connection": "keep-alive, x-drop-me", "x-drop-me": "1"},
    )
    seen = fake.requests[-1].headers
    # No proxy is trusted (LLMVET_TRUSTED_PROXIES=0): every entry is the client's own and is dropped, and
    # the address it connected from is appended. A client on loopback is no exception (uvicorn's own
    # proxy-header handling, which trusts loopback, is off).
    assert seen["x-forwarded-for"] == "127.0.0.1"
    assert "10.9.9.9" not in str(seen) and "10.8.8.8" not in str(seen) and "x-drop-me" not in seen


def test_trusted_proxies_keep_their_entries_and_the_peer_is_appended(fake, make_proxy):
    proxy = make_proxy(trusted_proxies=1)
    fake.reset(lambda b: Reply(text="ok"))
    httpx.post(
        proxy.url + "/v1/chat/completions",
        json={"model": "m", "messages": [{"role": "user", "content": "q"}]},
        headers={"X-Forwarded-For": "10.9.9.9, 10.8.8.8"},  # 10.8.8.8: what the trusted proxy saw
    )
    assert fake.requests[-1].headers["x-forwarded-for"] == "10.8.8.8, 127.0.0.1"


def test_oversized_headers_get_431_on_every_route(fake, guard):
    big = {"x-big": "a" * 100_000}
    for path in ("/v1/chat/completions", "/v1/models"):
        r = httpx.request(
            "POST" if "chat" in path else "GET",
            guard.url + path,
            json={"model": "m", "messages": []},
            headers=big,
        )
        assert r.status_code == 431 and r.json()["error"]["code"] == "headers_too_large"
    assert not any(s.headers.get("x-big") for s in fake.requests)


def test_body_limit_applies_to_pass_through(fake, make_proxy):
    proxy = make_proxy(POLICY.format(action="block"), max_body_bytes=4096)
    r = httpx.post(proxy.url + "/v1/files", content=b"x" * 10_000)
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"

    def chunks():
        for _ in range(10):
            yield b"y" * 1000
            time.sleep(0.01)

    r = httpx.post(proxy.url + "/v1/files", content=chunks())  # chunked: no Content-Length to check first
    assert r.status_code == 413
    assert not any(s.path == "/v1/files" and len(s.raw) > 4096 for s in fake.requests)
