"""A hostile upstream puts text where the wire format wants a string as something else: an object for
tool-call arguments, a list for a refusal, a number-keyed object for content. The app still receives
those bytes, so the proxy vets them as their JSON text. Every test reads the raw bytes the client got."""

from __future__ import annotations

from typing import Any

import pytest

from tests.proxy.test_nothing_flagged import KEY, POLICY, _chat_body, assert_not_delivered, send
from tests.support.fake_upstream import Reply

HIDDEN = KEY[4:]  # (the raw bytes must not hold the key's tail, however it is wrapped)


@pytest.fixture
def guard(make_proxy):
    return make_proxy(POLICY.format(action="block"))


def _responses_body(item: dict[str, Any]) -> dict[str, Any]:
    return {"id": "resp_x", "object": "response", "status": "completed", "model": "m", "output": [item]}


ODD = {
    "chat tool_calls arguments as an object": (
        "chat",
        _chat_body(
            {
                "content": None,
                "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": {"k": KEY}}}],
            }
        ),
    ),
    "chat content as an object": ("chat", _chat_body({"content": {"text": f"key {KEY}"}})),
    "chat content part with a non-string text": (
        "chat",
        _chat_body({"content": [{"type": "text", "text": {"value": KEY}}]}),
    ),
    "chat refusal as a list": ("chat", _chat_body({"content": None, "refusal": [f"no: {KEY}"]})),
    "chat reasoning_content as an object": ("chat", _chat_body({"content": "ok", "reasoning_content": {"k": KEY}})),
    "responses function_call arguments as an object": (
        "responses",
        _responses_body({"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "f", "arguments": {"k": KEY}}),
    ),
}


@pytest.mark.parametrize("case", sorted(ODD))
def test_text_sent_in_another_shape_is_still_vetted(fake, guard, case):
    route, body = ODD[case]
    fake.reset(lambda b: Reply(body=body))
    r = send(guard, route, False)
    assert HIDDEN.encode() not in r.content
    assert_not_delivered(r)


def test_a_clean_object_in_place_of_a_string_flows_unchanged(fake, guard):
    body = _chat_body(
        {
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": {"region": "eu-west-1"}}}
            ],
        }
    )
    fake.reset(lambda b: Reply(body=body))
    r = send(guard, "chat", False)
    assert r.status_code == 200
    assert r.json()["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] == {"region": "eu-west-1"}


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return {"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [choice]}


def _completion_chunk(text: Any, finish: str | None = None) -> dict[str, Any]:
    choice = {"index": 0, "text": text, "finish_reason": finish}
    return {"id": "cmpl-x", "object": "text_completion", "created": 1, "model": "m", "choices": [choice]}


STREAMED = {
    "chat content delta as an object": (
        "chat",
        [_chunk({"role": "assistant", "content": ""}), _chunk({"content": {"k": KEY}}), _chunk({}, "stop"), "[DONE]"],
    ),
    "chat tool-call arguments delta as an object": (
        "chat",
        [
            _chunk({"tool_calls": [{"index": 0, "id": "c", "type": "function", "function": {"name": "f"}}]}),
            _chunk({"tool_calls": [{"index": 0, "function": {"arguments": {"k": KEY}}}]}),
            _chunk({}, "tool_calls"),
            "[DONE]",
        ],
    ),
    "chat refusal delta as a list": ("chat", [_chunk({"refusal": [KEY]}), _chunk({}, "stop"), "[DONE]"]),
    "completions text as an object": (
        "completions",
        [_completion_chunk({"k": KEY}), _completion_chunk("", "stop"), "[DONE]"],
    ),
    "responses text delta as an object": (
        "responses",
        [
            (
                "response.output_text.delta",
                {"type": "response.output_text.delta", "item_id": "m1", "delta": {"k": KEY}},
            ),
            ("response.completed", {"type": "response.completed", "response": _responses_body({"type": "message"})}),
        ],
    ),
}


@pytest.mark.parametrize("case", sorted(STREAMED))
def test_text_streamed_in_another_shape_is_still_vetted(fake, guard, case):
    route, events = STREAMED[case]
    fake.reset(lambda b: Reply(events=events))
    r = send(guard, route, True)
    assert HIDDEN.encode() not in r.content, r.content[-300:]
    assert b"blocked_by_policy" in r.content or r.status_code == 422, r.content[-300:]


def test_completions_text_as_an_object_is_vetted(fake, guard):
    body = {"id": "cmpl-x", "object": "text_completion", "model": "m", "choices": [{"index": 0, "text": {"k": KEY}}]}
    fake.reset(lambda b: Reply(body=body))
    assert_not_delivered(send(guard, "completions", False))


# ---- keys outside the format, and shapes no client could read ------------------------------------------------
OUTSIDE = {
    "a top-level key": {**_chat_body({"content": "ok"}), "note": f"use {KEY}"},
    "a key in the choice": {
        **_chat_body({"content": "ok"}),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop", "x": KEY}],
    },
    "a key in the message": _chat_body({"content": "ok", "annotations": [{"type": "url_citation", "title": KEY}]}),
    "an audio transcript": _chat_body({"content": None, "audio": {"id": "a", "data": "", "transcript": f"key {KEY}"}}),
    "a custom tool call's input": _chat_body(
        {"content": None, "tool_calls": [{"id": "c", "type": "custom", "custom": {"name": "sh", "input": KEY}}]}
    ),
}


@pytest.mark.parametrize("case", sorted(OUTSIDE))
def test_text_outside_the_formats_text_fields_is_vetted(fake, guard, case):
    fake.reset(lambda b: Reply(body=OUTSIDE[case]))
    r = send(guard, "chat", False)
    assert HIDDEN.encode() not in r.content
    assert_not_delivered(r)


STREAMED_OUTSIDE = {
    "a top-level key on a text event": [{**_chunk({"content": "hi"}), "note": KEY}, _chunk({}, "stop"), "[DONE]"],
    "a key in a delta": [_chunk({"content": "hi", "x_vendor": {"k": KEY}}), _chunk({}, "stop"), "[DONE]"],
    "an audio transcript delta": [_chunk({"audio": {"transcript": f"key {KEY}"}}), _chunk({}, "stop"), "[DONE]"],
}


@pytest.mark.parametrize("case", sorted(STREAMED_OUTSIDE))
def test_text_outside_the_formats_text_fields_is_vetted_in_streams(fake, guard, case):
    fake.reset(lambda b: Reply(events=STREAMED_OUTSIDE[case]))
    r = send(guard, "chat", True)
    assert HIDDEN.encode() not in r.content, r.content[-300:]
    assert b"blocked_by_policy" in r.content, r.content[-300:]


UNREADABLE = {
    "a choice that is a string": {"id": "x", "object": "chat.completion", "model": "m", "choices": [KEY]},
    "a message that is a string": {"id": "x", "object": "chat.completion", "model": "m", "choices": [{"message": KEY}]},
    "a tool call that is a string": _chat_body({"content": None, "tool_calls": [KEY]}),
    "a function that is a string": _chat_body({"content": None, "tool_calls": [{"id": "c", "function": KEY}]}),
}


@pytest.mark.parametrize("case", sorted(UNREADABLE))
def test_an_answer_no_client_could_read_is_a_bad_gateway_error(fake, guard, case):
    fake.reset(lambda b: Reply(body=UNREADABLE[case]))
    r = send(guard, "chat", False)
    assert KEY[:8].encode() not in r.content
    assert r.status_code == 502 and r.json()["error"]["code"] == "upstream_bad_response", r.content[:300]
    assert "not an object" in r.json()["error"]["message"]


def test_a_vendors_extra_keys_without_a_secret_flow_unchanged(fake, guard):
    body = {**_chat_body({"content": "ok", "annotations": []}), "x_groq": {"id": "req_1"}}
    fake.reset(lambda b: Reply(body=body))
    r = send(guard, "chat", False)
    assert r.status_code == 200 and r.json()["x_groq"] == {"id": "req_1"}
    assert r.json()["choices"][0]["message"]["annotations"] == []


# ---- Responses: hosted tools' items and events of kinds the wire does not read ---------------------------------
MCP_CALL = {
    "type": "mcp_call",
    "id": "mcp_1",
    "name": "deploy",
    "server_label": "ops",
    "arguments": f'{{"k": "{KEY}"}}',
}


def test_a_hosted_tool_item_is_vetted(fake, guard):
    body = {"id": "resp_x", "object": "response", "status": "completed", "model": "m", "output": [MCP_CALL]}
    fake.reset(lambda b: Reply(body=body))
    assert_not_delivered(send(guard, "responses", False))


@pytest.mark.parametrize("where", ["item added", "unknown event", "final snapshot only", "first snapshot only"])
def test_a_hosted_tool_item_is_vetted_in_streams(fake, guard, where):
    final = {"id": "resp_x", "object": "response", "status": "completed", "model": "m", "output": []}
    events: list[Any] = [("response.created", {"type": "response.created", "response": {**final, "output": []}})]
    if where == "item added":
        events.append(("response.output_item.added", {"type": "response.output_item.added", "item": MCP_CALL}))
    elif where == "unknown event":
        payload = {"type": "response.mcp_call_arguments.delta", "item_id": "mcp_1", "delta": KEY}
        events.append(("response.mcp_call_arguments.delta", payload))
    elif where == "final snapshot only":
        final = {**final, "output": [MCP_CALL]}
    else:
        events[0] = ("response.created", {"type": "response.created", "response": {**final, "output": [MCP_CALL]}})
    events.append(("response.completed", {"type": "response.completed", "response": final}))
    fake.reset(lambda b: Reply(events=events))
    r = send(guard, "responses", True)
    assert HIDDEN.encode() not in r.content, r.content[-300:]
    assert b"blocked_by_policy" in r.content or r.status_code == 422, r.content[-300:]


def test_a_web_search_stream_without_a_secret_flows(fake, guard):
    item = {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"query": "weather in Paris"}}
    final = {"id": "resp_x", "object": "response", "status": "completed", "model": "m", "output": [item]}
    events = [
        ("response.output_item.added", {"type": "response.output_item.added", "output_index": 0, "item": item}),
        ("response.web_search_call.searching", {"type": "response.web_search_call.searching", "item_id": "ws_1"}),
        ("response.output_text.delta", {"type": "response.output_text.delta", "item_id": "m1", "delta": "Sunny."}),
        ("response.completed", {"type": "response.completed", "response": final}),
    ]
    fake.reset(lambda b: Reply(events=events))
    r = send(guard, "responses", True)
    assert r.status_code == 200 and b"Sunny." in r.content and b"weather in Paris" in r.content
    assert b"blocked_by_policy" not in r.content


@pytest.mark.parametrize("stream", [False, True])
def test_keys_outside_the_format_are_vetted_on_the_completions_route(fake, guard, stream):
    choice = {"index": 0, "text": "ok", "finish_reason": "stop", "x_vendor": {"k": KEY}}
    if stream:
        fake.reset(
            lambda b: Reply(events=[{**_completion_chunk("ok"), "note": KEY}, _completion_chunk("", "stop"), "[DONE]"])
        )
    else:
        fake.reset(
            lambda b: Reply(body={"id": "cmpl-x", "object": "text_completion", "model": "m", "choices": [choice]})
        )
    r = send(guard, "completions", stream)
    assert HIDDEN.encode() not in r.content, r.content[-300:]
    assert b"blocked_by_policy" in r.content, r.content[-300:]
