"""The SSE parser reads the same events however the upstream's bytes are split into reads."""

from __future__ import annotations

import orjson
import pytest

from llmvet.proxy.sse import SSEParser, StreamError

EVENTS = [
    {"id": "c", "choices": [{"index": 0, "delta": {"content": "the river"}, "finish_reason": None}]},
    {"id": "c", "choices": [{"index": 0, "delta": {"content": " runs\nnorth"}, "finish_reason": None}]},
    {"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
]


def stream(newline: bytes) -> bytes:
    blocks = [b"data: " + orjson.dumps(e) for e in EVENTS]
    blocks.insert(1, b": keep-alive")  # a comment between events
    blocks.insert(2, b"event: note\ndata: " + orjson.dumps({"two": "lines"}))
    return b"".join(b + newline + newline for b in [*blocks, b"data: [DONE]"])


def parse(raw: bytes, cuts: list[int]) -> list[tuple[bytes, str | None, object]]:
    parser = SSEParser()
    out = []
    for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True):
        out += [(e.raw, e.event, e.data) for e in parser.feed(raw[a:b])]
    assert parser.pending == b""
    return out


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
def test_every_split_point_gives_the_same_events(newline):
    raw = stream(newline)
    whole = parse(raw, [])
    assert [d for _, _, d in whole] == [EVENTS[0], {"two": "lines"}, *EVENTS[1:], "[DONE]"]
    assert whole[1][1] == "note"
    for cut in range(1, len(raw)):
        assert parse(raw, [cut]) == whole, cut
    assert parse(raw, list(range(1, len(raw)))) == whole  # a byte a read


def test_a_broken_event_is_an_error_wherever_it_is_split():
    raw = b'data: {"id": "c"}\n\ndata: {"id": \n\n'
    for cut in range(1, len(raw)):
        parser = SSEParser()
        with pytest.raises(StreamError):
            parser.feed(raw[:cut])
            parser.feed(raw[cut:])
