"""A hostile upstream escapes one character of a secret inside tool-call arguments. The app's JSON
parser reads the secret back; so must the proxy, streamed or not, however the chunks are cut. Every
test reads the raw bytes the client received."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from tests.proxy.test_nothing_flagged import _chat_body, _tool_call_deltas
from tests.support.fake_upstream import Reply

KEY = "AKIA" + "IOSFODNN7EXAMPLE"  # assembled so this file does not itself look like a leaked key
# What the upstream sends: the key's fifth character as a \u escape, which json.loads undoes.
ARGUMENTS = '{"cmd": "export AWS_ACCESS_KEY_ID=AKIA\\u0049OSFODNN7EXAMPLE", "region": "eu-west-1"}'
HIDDEN = "OSFODNN7EXAMPLE"  # the part of the key after the escape, in the raw bytes if anything leaked
PEM = "-----BEGIN RSA PRIVATE KEY-----"
BLOCKING = """
version: 1
name: guard
rules:
  - name: no-keys
    match: {models: ["*"]}
    validators:
      - use: regex
        with:
          must_not_match: ["-----BEGIN (?:RSA |EC )?PRIVATE KEY-----", "\\\\bAKIA[0-9A-Z]{16}\\\\b"]
    on_fail: block
"""


def _call(arguments: str) -> dict[str, Any]:
    return {"id": "c1", "type": "function", "function": {"name": "deploy", "arguments": arguments}}


def _chat(proxy: Any, stream: bool) -> httpx.Response:
    body = {"model": "m", "messages": [{"role": "user", "content": "q"}], "stream": stream}
    return httpx.post(proxy.url + "/v1/chat/completions", json=body, timeout=30)


def test_the_arguments_hide_the_key_from_a_raw_match_but_not_from_the_app():
    assert KEY not in ARGUMENTS and json.loads(ARGUMENTS)["cmd"].endswith(KEY)


def test_the_bundled_default_policy_annotates_the_escaped_key(fake, make_proxy):
    proxy = make_proxy()  # policies/default.yaml: annotate secrets
    fake.reset(lambda b: Reply(body=_chat_body({"content": None, "tool_calls": [_call(ARGUMENTS)]})))
    client = openai.OpenAI(base_url=proxy.url + "/v1", api_key="k", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(model="m", messages=[{"role": "user", "content": "q"}])
    assert raw.http_response.headers["x-llmvet-decision"] == "annotate"
    body = json.loads(raw.http_response.content)
    [finding] = body["llmvet"]["findings"]
    assert finding["code"] == "regex.must_not_match" and KEY not in json.dumps(finding)
    start, end = finding["span"]
    assert json.loads(f'"{ARGUMENTS[start:end]}"') == KEY  # the span is the key as the upstream wrote it
    assert body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] == ARGUMENTS  # annotate: as sent


def test_a_blocking_policy_keeps_the_escaped_key_from_the_client(fake, make_proxy):
    proxy = make_proxy(BLOCKING)
    fake.reset(lambda b: Reply(body=_chat_body({"content": None, "tool_calls": [_call(ARGUMENTS)]})))
    r = _chat(proxy, stream=False)
    assert r.status_code == 422 and HIDDEN.encode() not in r.content


@pytest.mark.parametrize("cut", range(ARGUMENTS.index("AKIA"), ARGUMENTS.index("EXAMPLE")))
def test_the_escaped_key_is_blocked_at_every_chunk_boundary(fake, make_proxy, cut):
    """The stream's chunks are cut before, inside and after the escape."""
    proxy = make_proxy(BLOCKING)
    fake.reset(lambda b: Reply(events=_tool_call_deltas([ARGUMENTS[:cut], ARGUMENTS[cut:]])))
    r = _chat(proxy, stream=True)
    assert HIDDEN.encode() not in r.content and b"eu-west-1" not in r.content, r.content[-300:]
    assert b"blocked_by_policy" in r.content


def test_an_escaped_private_key_header_is_blocked_in_three_character_chunks(fake, make_proxy):
    """A match with spaces is checked across words; here its first word is written in escapes."""
    arguments = json.dumps({"key": PEM + "\nMIIEow"}).replace("-----BEGIN", "\\u002d" * 5 + "BEGIN", 1)
    assert PEM not in arguments and json.loads(arguments)["key"].startswith(PEM)
    proxy = make_proxy(BLOCKING)
    pieces = [arguments[i : i + 3] for i in range(0, len(arguments), 3)]
    fake.reset(lambda b: Reply(events=_tool_call_deltas(pieces)))
    r = _chat(proxy, stream=True)
    assert b"PRIVATE" not in r.content and b"MIIEow" not in r.content and b"blocked_by_policy" in r.content


@pytest.mark.parametrize("stream", [False, True])
def test_escaped_arguments_without_a_secret_flow_byte_for_byte(fake, make_proxy, stream):
    arguments = json.dumps({"note": "AKIA keys \u2014 20 characters \U0001f680", "path": "C:\\new\\tmp"})
    proxy = make_proxy(BLOCKING)
    if stream:
        fake.reset(
            lambda b: Reply(events=_tool_call_deltas([arguments[i : i + 5] for i in range(0, len(arguments), 5)]))
        )
    else:
        fake.reset(lambda b: Reply(body=_chat_body({"content": None, "tool_calls": [_call(arguments)]})))
    r = _chat(proxy, stream=stream)
    assert r.status_code == 200
    if stream:
        sent = [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: {")]
        got = "".join(
            c["function"].get("arguments", "") for e in sent for c in e["choices"][0]["delta"].get("tool_calls", [])
        )
    else:
        got = r.json()["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
    assert got == arguments
