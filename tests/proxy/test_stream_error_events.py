"""Error events inside a stream are vetted too: the SDKs raise them with their message.

A hostile upstream streams some text, then an event carrying an `error` (chat) or a Responses `error`
event, with an AWS-style key in its message. A blocking policy keeps every byte of the key from the
client in buffer and incremental mode; a clean error event still reaches the SDK as the upstream sent
it; `stream.mode: passthrough` relays it and audits the finding.
"""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from tests.proxy.test_upstream_error_text import KEY, POLICY, wait_for_records
from tests.support.fake_upstream import Reply

CHAT = {"model": "m", "messages": [{"role": "user", "content": "q"}], "stream": True}


def chunk(content: str | None = None, finish: str | None = None) -> dict[str, Any]:
    delta = {"content": content} if content is not None else {}
    return {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def error_stream(message: str) -> list[Any]:
    return [chunk("Working on it. "), {"error": {"message": message, "type": "server_error"}}, "[DONE]"]


@pytest.mark.parametrize("mode", ["buffer", "incremental"])
@pytest.mark.parametrize("split", [None, 3])  # one write, or the key's event cut across writes
def test_a_key_in_a_stream_error_event_never_reaches_the_client(fake, make_proxy, mode, split):
    proxy = make_proxy(POLICY.format(action="block", mode=mode))
    writes = None if split is None else [1, 1]
    fake.reset(lambda b: Reply(events=error_stream(f"internal: {KEY}"), writes=writes))
    r = httpx.post(proxy.url + "/v1/chat/completions", json=CHAT, timeout=30)
    assert KEY.encode() not in r.content and KEY[:10].encode() not in r.content
    assert b"block" in r.content  # the decision, in the final event or the error body


def test_incremental_sends_the_text_before_and_stops_at_the_error(fake, make_proxy):
    proxy = make_proxy(POLICY.format(action="block", mode="incremental"))
    # events 0.3 s apart: the text is out before the error event comes (all at once, it is decided whole)
    fake.reset(lambda b: Reply(events=error_stream(f"internal: {KEY}"), chunk_delay=0.3))
    client = openai.OpenAI(base_url=proxy.url + "/v1", api_key="k", max_retries=0)
    stream = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "q"}], stream=True)
    chunks = list(stream)  # no exception: the stream ends cleanly, flagged
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Working on it. "
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "content_filter"


@pytest.mark.parametrize("mode", ["buffer", "incremental"])
def test_a_clean_error_event_still_reaches_the_sdk(fake, make_proxy, mode):
    proxy = make_proxy(POLICY.format(action="block", mode=mode))
    fake.reset(lambda b: Reply(events=error_stream("the model is overloaded")))
    client = openai.OpenAI(base_url=proxy.url + "/v1", api_key="k", max_retries=0)
    stream = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "q"}], stream=True)
    with pytest.raises(openai.APIError, match="the model is overloaded"):
        list(stream)


def test_a_responses_error_event_is_vetted(fake, make_proxy):
    proxy = make_proxy(POLICY.format(action="block", mode="incremental"))
    events = [
        ("response.created", {"type": "response.created", "sequence_number": 0, "response": {"id": "r1"}}),
        ("response.output_text.delta", {"type": "response.output_text.delta", "sequence_number": 1, "delta": "Hi. "}),
        ("error", {"type": "error", "code": "server_error", "message": f"leak {KEY}", "sequence_number": 2}),
    ]
    fake.reset(lambda b: Reply(events=events, chunk_delay=0.2))  # the text goes out before the error comes
    r = httpx.post(proxy.url + "/v1/responses", json={"model": "m", "input": "q", "stream": True}, timeout=30)
    assert KEY.encode() not in r.content and KEY[:10].encode() not in r.content


def test_passthrough_relays_the_error_event_and_audits_it(fake, make_proxy, tmp_path):
    store = f"sqlite:///{tmp_path / 'audit.db'}"
    proxy = make_proxy(POLICY.format(action="block", mode="passthrough"), store=store)
    fake.reset(lambda b: Reply(events=error_stream(f"internal: {KEY}")))
    r = httpx.post(proxy.url + "/v1/chat/completions", json=CHAT, timeout=30)
    assert KEY.encode() in r.content  # passthrough blocks nothing, by design
    (record,) = wait_for_records(store, 1)
    assert record["action"] == "allow" and record["policy_action"] == "block"
    assert [f["evidence"]["part"] for f in record["findings"]] == ["error"]
