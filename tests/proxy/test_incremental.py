"""stream.mode: incremental — text flows as it arrives, and nothing a check flags is ever sent."""

from __future__ import annotations

import time
from typing import Any

import httpx
import openai
import orjson
import pytest

from tests.proxy.test_nothing_flagged import KEY, TOOL_ARGS, _chunk, _tool_call_deltas, send
from tests.support.fake_upstream import Reply

POLICY = """
version: 1
name: incremental
rules:
  - name: no-keys
    match: {{models: ["*"]}}
    stream: {{mode: incremental}}
    validators:
      - use: regex
        with: {{must_not_match: ["AKIA[0-9A-Z]{{16}}"]}}
{extra}
    on_fail: {action}
"""
PROSE = " ".join(f"word{i}" for i in range(60)) + "."


def policy(action: str = "block", extra: str = "") -> str:
    return POLICY.format(action=action, extra=extra)


def stream(proxy: Any, route: str = "chat", **extra: Any) -> httpx.Response:
    return send(proxy, route, True, **extra)


def read_first_then_rest(proxy: Any, fake: Any, rest: bool = True) -> tuple[bytes, int, bytes]:
    """(the first bytes, how many upstream streams had finished when they arrived, the rest or b"" when
    the client hangs up after the first bytes)."""
    body = {"model": "m", "messages": [{"role": "user", "content": "q"}], "stream": True}
    with httpx.stream("POST", proxy.url + "/v1/chat/completions", json=body, timeout=30) as r:
        raw = r.iter_raw()
        first = next(raw)
        finished = fake.streams_finished
        return first, finished, b"".join(raw) if rest else b""


def data_events(raw: bytes) -> list[Any]:
    out = []
    for block in raw.split(b"\n\n"):
        for line in block.split(b"\n"):
            if line.startswith(b"data: "):
                payload = line[6:]
                out.append(payload.decode() if payload == b"[DONE]" else orjson.loads(payload))
    return out


def assert_stopped_without_key(r: httpx.Response) -> None:
    assert KEY.encode() not in r.content and KEY[:12].encode() not in r.content
    if r.status_code == 200:  # some text went out first: the stream ends with content_filter
        events = data_events(r.content)
        reasons = [c.get("finish_reason") for e in events if isinstance(e, dict) for c in e.get("choices") or []]
        incomplete = [e for e in events if isinstance(e, dict) and e.get("type") == "response.incomplete"]
        if incomplete:  # the Responses API says it with its own event
            assert incomplete[0]["response"]["incomplete_details"]["reason"] == "content_filter"
        else:
            assert "content_filter" in reasons and events[-1] == "[DONE]"
        assert any(isinstance(e, dict) and e.get("llmvet", {}).get("decision") == "block" for e in events)
        assert sum(1 for e in events if isinstance(e, dict) and "llmvet" in e) == 1
    else:
        assert r.status_code == 422


def test_prose_flows_before_the_upstream_finishes(fake, make_proxy):
    proxy = make_proxy(policy())
    fake.reset(lambda b: Reply(text=PROSE, chunk_delay=0.05))
    first, finished_when_first_byte_arrived, rest = read_first_then_rest(proxy, fake)
    assert finished_when_first_byte_arrived == 0  # released while the upstream was still writing
    text = "".join(
        c["delta"].get("content") or ""
        for e in data_events(first + rest)
        if isinstance(e, dict)
        for c in e.get("choices") or []
    )
    assert text == PROSE and (first + rest).endswith(b"data: [DONE]\n\n")


def test_unchanged_events_are_the_upstreams_own_bytes(fake, make_proxy):
    events = [_chunk({"role": "assistant", "content": "hello "}), _chunk({"content": "world"}), _chunk({}, "stop")]
    events[0]["system_fingerprint"] = "fp_upstream"
    fake.reset(lambda b: Reply(events=[*events, "[DONE]"]))
    r = stream(make_proxy(policy()))
    for e in events:
        assert b"data: " + orjson.dumps(e) + b"\n\n" in r.content


@pytest.mark.parametrize("cut", range(0, len(KEY) + 1, 3))
def test_key_split_across_chunks_never_goes_out(fake, make_proxy, cut):
    proxy = make_proxy(policy())
    text = f"{PROSE} the key is {KEY} and more words after it"
    at = text.index(KEY) + cut
    events = [_chunk({"role": "assistant", "content": ""})]
    events += [_chunk({"content": w + " "}) for w in text[:at].split(" ")[:-1]]
    events += [_chunk({"content": text[:at].split(" ")[-1]}), _chunk({"content": text[at:]}), _chunk({}, "stop")]
    fake.reset(lambda b: Reply(events=[*events, "[DONE]"], chunk_delay=0.003))  # event by event
    r = stream(proxy)
    assert r.status_code == 200 and b"word10" in r.content  # the prose before the key went out
    assert_stopped_without_key(r)


def test_key_in_another_choice_or_a_tool_call_never_goes_out(fake, make_proxy):
    proxy = make_proxy(policy())
    fake.reset(lambda b: Reply(text=[PROSE, f"{PROSE} {KEY}"]))
    assert_stopped_without_key(stream(proxy, n=2))
    fake.reset(lambda b: Reply(text=[PROSE, f"{PROSE} {KEY}"]))
    assert_stopped_without_key(stream(proxy, "completions", n=2))
    fake.reset(lambda b: Reply(events=_tool_call_deltas([TOOL_ARGS[:20], TOOL_ARGS[20:]])))
    assert_stopped_without_key(stream(proxy))
    fake.reset(lambda b: Reply(text=f"{PROSE} {KEY} end"))
    assert_stopped_without_key(stream(proxy, "responses"))


def test_key_first_gets_the_buffered_error(fake, make_proxy):
    """Flagged before anything went out: the same OpenAI error a buffered stream gets."""
    fake.reset(lambda b: Reply(text=f"{KEY} is the key"))
    r = stream(make_proxy(policy()))
    assert r.status_code == 422 and r.json()["error"]["code"] == "blocked_by_policy"
    assert KEY.encode() not in r.content


def test_the_openai_sdk_reads_a_stopped_stream_without_an_exception(fake, make_proxy):
    proxy = make_proxy(policy())
    fake.reset(lambda b: Reply(text=f"{PROSE} {KEY} tail"))
    client = openai.OpenAI(base_url=proxy.url + "/v1", api_key="k", max_retries=0)
    chunks = list(client.chat.completions.create(model="m", messages=[{"role": "user", "content": "q"}], stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("word0") and KEY not in text
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "content_filter"
    assert chunks[-1].model_extra["llmvet"]["decision"] == "block"


def test_annotate_puts_the_decision_on_the_last_event(fake, make_proxy):
    fake.reset(lambda b: Reply(text=f"{PROSE} {KEY}"))
    r = stream(make_proxy(policy("annotate")))
    events = [e for e in data_events(r.content) if isinstance(e, dict)]
    text = "".join(c["delta"].get("content") or "" for e in events for c in e.get("choices") or [])
    assert text == f"{PROSE} {KEY}"  # annotate lets the text through, by the policy's choice
    assert events[-1]["llmvet"]["decision"] == "annotate"
    assert len(events[-1]["llmvet"]["validators"]) == 1  # one run per validator, however many segments
    assert events[-1]["llmvet"]["findings"][0]["code"] == "regex.must_not_match"


def test_plugin_without_a_streaming_declaration_is_held_to_the_end(fake, make_proxy, test_plugin):
    extra = "      - use: shouting\n"
    proxy = make_proxy(policy(extra=extra))
    fake.reset(lambda b: Reply(text=PROSE, chunk_delay=0.02))
    _, finished_when_first_byte_arrived, _ = read_first_then_rest(proxy, fake)
    assert finished_when_first_byte_arrived == 1  # nothing went out before the whole answer was in


def test_upstream_cut_after_text_ends_with_a_clear_stop(fake, make_proxy):
    fake.reset(lambda b: Reply(text=PROSE, cut_after=20))
    r = stream(make_proxy(policy()))
    events = data_events(r.content)
    assert r.status_code == 200 and events[-1] == "[DONE]"
    stop = next(e for e in events if isinstance(e, dict) and "llmvet" in e)
    assert stop["llmvet"]["decision"] == "error" and stop["llmvet"]["error"]["code"] == "upstream_bad_response"


def test_client_disconnect_cancels_the_upstream(fake, make_proxy):
    proxy = make_proxy(policy())
    fake.reset(lambda b: Reply(text=PROSE * 5, chunk_delay=0.02))
    read_first_then_rest(proxy, fake, rest=False)  # then hang up
    for _ in range(100):
        if fake.streams_cancelled:
            break
        time.sleep(0.05)
    assert fake.streams_cancelled == 1 and fake.streams_finished == 0


KEEPALIVE_POLICY = """
version: 1
name: keepalive
rules:
  - name: no-keys
    match: {{models: ["*"]}}
    stream: {{mode: {mode}, keepalive: 0.2}}
    validators:
      - use: regex
        with: {{must_not_match: ["AKIA[0-9A-Z]{{16}}"]}}
    on_fail: block
"""


@pytest.mark.parametrize("mode", ["incremental", "buffer"])
def test_waiting_streams_send_keepalives_the_sdk_ignores(fake, make_proxy, mode):
    proxy = make_proxy(KEEPALIVE_POLICY.format(mode=mode))
    fake.reset(lambda b: Reply(text=PROSE, delay=0.9))  # the upstream thinks before its first byte
    r = stream(proxy)
    assert r.content.count(b": keep-alive\n\n") >= 2
    client = openai.OpenAI(base_url=proxy.url + "/v1", api_key="k", max_retries=0)
    chunks = list(client.chat.completions.create(model="m", messages=[{"role": "user", "content": "q"}], stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == PROSE


def test_a_block_after_keepalives_ends_the_stream_without_the_key(fake, make_proxy):
    """Buffered: the 200 went out with the first keep-alive, so the block becomes the stream's end."""
    proxy = make_proxy(KEEPALIVE_POLICY.format(mode="buffer"))
    fake.reset(lambda b: Reply(text=f"{PROSE} {KEY}", delay=0.7))
    r = stream(proxy)
    assert r.status_code == 200 and b": keep-alive" in r.content
    assert r.headers["x-llmvet-decision"] == "pending" and r.headers["x-llmvet-request-id"].startswith("req_")
    assert_stopped_without_key(r)
    stop = next(e for e in data_events(r.content) if isinstance(e, dict) and "llmvet" in e)
    assert stop["llmvet"]["error"]["code"] == "blocked_by_policy"


PEM = "-----BEGIN RSA PRIVATE KEY-----"
PEM_POLICY = POLICY.replace(
    'with: {{must_not_match: ["AKIA[0-9A-Z]{{16}}"]}}',
    'with: {{must_not_match: ["-----BEGIN (?:RSA |EC )?PRIVATE KEY-----"]}}',
)


@pytest.mark.parametrize("cut", range(0, len(PEM) + 1, 2))
def test_a_match_with_spaces_is_held_whole(fake, make_proxy, cut):
    """A pattern whose matches span words: none of its words go out before the whole match is judged,
    wherever the chunks split it."""
    proxy = make_proxy(PEM_POLICY.format(action="block", extra=""))
    text = f"{PROSE} here it is {PEM} and more"
    at = text.index(PEM) + cut
    words = text[:at].split(" ")
    events = [_chunk({"role": "assistant", "content": ""})]
    events += [_chunk({"content": w + " "}) for w in words[:-1]]
    events += [_chunk({"content": words[-1]}), _chunk({"content": text[at:]}), _chunk({}, "stop"), "[DONE]"]
    fake.reset(lambda b: Reply(events=events, chunk_delay=0.003))  # event by event: the prose flows
    r = stream(proxy)
    assert r.status_code == 200 and b"word59." in r.content
    assert b"-----BEGIN" not in r.content and b"PRIVATE" not in r.content
    assert_stopped_without_key(r)
