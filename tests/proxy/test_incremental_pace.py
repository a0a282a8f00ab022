"""stream.mode: incremental keeps the upstream's pace: no event waits for more than its checks need."""

from __future__ import annotations

import time

import httpx

from tests.proxy.test_incremental import data_events, policy, stream
from tests.proxy.test_nothing_flagged import KEY, _chunk
from tests.support.fake_upstream import Reply

BODY = {"model": "m", "messages": [{"role": "user", "content": "q"}], "stream": True}


def test_the_last_word_goes_out_when_its_choice_finishes(fake, make_proxy):
    """The last token is held only until the text is known whole, not until the upstream's [DONE]."""
    proxy = make_proxy(policy())
    words = [_chunk({"role": "assistant", "content": ""}), _chunk({"content": "rivers"}), _chunk({"content": " end"})]
    fake.reset(lambda b: Reply(events=[*words, _chunk({}, "stop"), "[DONE]"], chunk_delay=0.4))
    seen = b""
    with httpx.stream("POST", proxy.url + "/v1/chat/completions", json=BODY, timeout=30) as r:
        for chunk in r.iter_raw():
            seen += chunk
            if b'" end"' in seen:
                done_when_last_word_arrived = fake.streams_finished  # [DONE] is counted as it is sent
                break
    assert done_when_last_word_arrived == 0


def test_the_stream_ends_at_done_without_waiting_for_the_upstream_to_close(fake, make_proxy):
    proxy = make_proxy(policy(action="annotate"))
    fake.reset(lambda b: Reply(text=f"the key is {KEY} here", linger=60))
    r = stream(proxy)  # the upstream keeps its connection open a minute after [DONE]
    events = data_events(r.content)
    assert events[-1] == "[DONE]" and events[-2]["llmvet"]["decision"] == "annotate"
    deadline = time.monotonic() + 10
    while fake.streams_cancelled == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake.streams_cancelled == 1  # the proxy hung up once the answer was complete


def test_a_key_in_the_first_words_gets_the_buffered_error_however_the_events_arrive(fake, make_proxy):
    """Events that carry no text (the role) wait for the first cleared text, so nothing has gone out
    when the first words are flagged: the client gets the OpenAI error, not a stopped stream."""
    events = [_chunk({"role": "assistant", "content": ""}), _chunk({"content": KEY}), _chunk({"content": " is it"})]
    fake.reset(lambda b: Reply(events=[*events, _chunk({}, "stop"), "[DONE]"], chunk_delay=0.05))
    r = stream(make_proxy(policy()))
    assert r.status_code == 422 and r.json()["error"]["code"] == "blocked_by_policy"
    assert KEY.encode() not in r.content


def test_the_first_read_with_text_decides_between_the_error_and_a_stopped_stream(fake, make_proxy):
    """Until some text has gone out a finding gets the buffered error; after, the stream stops with
    content_filter. The role event alone does not commit the response."""
    words = [_chunk({"content": f"word{i} "}) for i in range(5)]
    events = [_chunk({"role": "assistant", "content": ""}), *words, _chunk({"content": KEY}), _chunk({}, "stop")]
    proxy = make_proxy(policy())
    fake.reset(lambda b: Reply(events=[*events, "[DONE]"], writes=[6], chunk_delay=0.05))  # role and prose, then key
    r = stream(proxy)
    assert r.status_code == 200 and b"word4" in r.content and KEY.encode() not in r.content
    reasons = [c.get("finish_reason") for e in data_events(r.content) if isinstance(e, dict) for c in e["choices"]]
    assert "content_filter" in reasons
    fake.reset(lambda b: Reply(events=[*events, "[DONE]"], writes=[1], chunk_delay=0.05))  # role, then the rest
    r = stream(proxy)
    assert r.status_code == 422 and KEY.encode() not in r.content
