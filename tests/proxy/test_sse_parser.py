"""llmvet's SSE parser against the openai SDK's decoder: the events llmvet vets are the ones a client reads."""

from __future__ import annotations

import json

import orjson
import pytest
from openai._streaming import SSEDecoder

from llmvet.proxy.sse import SSEParser, StreamError

LINES = [
    (b'data: {"choices": [{"delta": {"content": "one"}}]}', b"\n"),
    (b"", b"\r\n"),
    (b": keep-alive", b"\r"),
    (b"", b"\r"),
    (b"event: response.x", b"\r"),
    (b'data: {"choices": [{"delta": {"content": "two"}}]}', b"\r\n"),
    (b"", b"\n"),
    (b'id: 7\rdata: {"choices": [{"delta": {"content": "three"}}]}', b"\n"),
    (b"", b"\r"),
    (b"data: [DONE]", b"\r\n"),
    (b"", b"\r\n"),
]
STREAM = b"".join(line + end for line, end in LINES)


def sdk_events(raw: bytes) -> list[tuple[str | None, object]]:
    return [(e.event, e.data if e.data == "[DONE]" else json.loads(e.data)) for e in SSEDecoder().iter_bytes([raw])]


def llmvet_events(pieces: list[bytes]) -> tuple[list[tuple[str | None, object]], bytes]:
    parser = SSEParser()
    events = [e for piece in pieces for e in parser.feed(piece)]
    assert parser.pending == b""
    return [(e.event, e.data) for e in events], b"".join(e.raw for e in events)


@pytest.mark.parametrize("cut", range(len(STREAM) + 1))
def test_events_are_the_sdks_however_the_bytes_are_cut(cut):
    """LF, CRLF and lone CR line ends, with the stream cut at every byte (a CR and its LF apart too)."""
    expected = sdk_events(STREAM)
    assert [data for _, data in expected][-1] == "[DONE]" and len(expected) == 4
    events, relayed = llmvet_events([STREAM[:cut], STREAM[cut:]])
    assert events == expected
    assert sdk_events(relayed) == expected  # the bytes llmvet relays read the same to the client


def test_one_byte_at_a_time():
    events, _ = llmvet_events([STREAM[i : i + 1] for i in range(len(STREAM))])
    assert events == sdk_events(STREAM)


def test_an_unfinished_event_over_the_limit_is_an_error_with_every_byte_kept():
    parser = SSEParser(limit=1000)
    first = b'data: {"a": 1}\n\n'
    assert [e.data for e in parser.feed(first + b"data: " + b"x" * 500)] == [{"a": 1}]
    assert parser.feed(b"y" * 400) == []
    with pytest.raises(StreamError) as caught:
        parser.feed(b"z" * 200)
    assert caught.value.rest == b"data: " + b"x" * 500 + b"y" * 400 + b"z" * 200
    assert "1000-byte limit" in str(caught.value)


def test_a_malformed_event_keeps_the_events_before_it_and_the_bytes_after():
    parser = SSEParser()
    good = b'data: {"a": 1}\n\n'
    bad = b"data: {not json\n\n" + b'data: {"b": 2}\n\n'
    with pytest.raises(StreamError) as caught:
        parser.feed(good + bad)
    assert [e.raw for e in caught.value.events] == [good]
    assert caught.value.rest == bad


def test_raw_bytes_are_kept_per_event():
    events = SSEParser().feed(b'event: e\ndata: {"a": 1}\n\ndata: [DONE]\n\n')
    assert [(e.raw, e.event, e.data) for e in events] == [
        (b'event: e\ndata: {"a": 1}\n\n', "e", {"a": 1}),
        (b"data: [DONE]\n\n", None, "[DONE]"),
    ]
    assert orjson.loads(events[0].raw.split(b"data: ")[1]) == {"a": 1}


@pytest.mark.parametrize("end", [b"\n\n", b"\r\n\r\n", b"\r\r"])
@pytest.mark.parametrize("read", [1000, 1024, 4096])
def test_a_long_event_read_in_pieces_ends_where_the_sdk_ends_it(end, read):
    """Events longer than the parser's copy-at-once size are kept as a list of reads; wherever the
    reads cut the line ends, the events are the SDK's."""
    long = b'data: {"text": "' + b"x" * 40_000 + b'"}' + end
    stream = long + b'data: {"after": 1}' + end + long
    pieces = [stream[i : i + read] for i in range(0, len(stream), read)]
    events, relayed = llmvet_events(pieces)
    assert events == sdk_events(stream) and len(events) == 3
    assert sdk_events(relayed) == events


@pytest.mark.parametrize(("end", "last"), [(b"\n\n", 1), (b"\r\r", 1), (b"\r\n\r\n", 2)])
def test_a_long_event_comes_out_with_the_read_that_ends_it(end, last):
    """The read holding the line end that makes the blank line completes it (for CRLF, its CR: the LF
    after it belongs to it), with no waiting for more."""
    long = b'data: {"text": "' + b"x" * 40_000 + b'"}' + end
    parser = SSEParser()
    assert parser.feed(long[:20_000]) == [] and parser.feed(long[20_000:-last]) == []
    assert [e.data for e in parser.feed(long[-last:][:1])] == [{"text": "x" * 40_000}]
    assert parser.feed(long[-last:][1:]) == [] and parser.pending == b""
