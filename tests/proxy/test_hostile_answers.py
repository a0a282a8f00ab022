"""A hostile or misconfigured upstream's answers: framed to fool a parser.

The upstream is a raw loopback server (tests.support.raw_upstream) that writes exactly the bytes a test
scripts; the client is the openai SDK or raw httpx, and the tests assert on the bytes it gets.
"""

from __future__ import annotations

import asyncio

import httpx
import openai
import pytest

from tests.support.raw_upstream import CHAT, RawRequest, RawUpstream
from tests.support.raw_upstream import chat_chunk as chunk

BLOCKING = """
rules:
  - name: vet
    validators: [{use: regex, with: {must_not_match: ["AKIA[0-9A-Z]{16}"]}}]
    on_fail: block
"""
SECRET = "AKIAIOSFODNN7EXAMPLE"  # an AWS key id: the default policy's regex flags it


def sdk(proxy) -> openai.OpenAI:
    return openai.OpenAI(base_url=proxy.url + "/v1", api_key="sk-client", max_retries=0)


def audit_records(tmp_path) -> list[dict]:
    """The audit log of the proxy make_proxy started (its SQLite store), once a record is in."""
    from llmvet.store import open_store

    async def read() -> list[dict]:
        store = await open_store(f"sqlite:///{tmp_path / 'llmvet.db'}")
        try:
            for _ in range(100):
                rows = await store.read("audit")
                if rows:
                    return [row for _, row in rows]
                await asyncio.sleep(0.05)
            return []
        finally:
            await store.close()

    return asyncio.run(read())


# ---- event framing: what llmvet vets is what the client reads ------------------------------------------


def sse_answer(writes: list[bytes]):
    """An event stream written in these pieces, 20 ms apart (so each arrives on its own)."""

    async def stream(request: RawRequest):
        yield b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
        for piece in writes:
            await asyncio.sleep(0.02)
            yield piece

    return stream


def sdk_stream_text(proxy) -> str:
    """What the openai SDK makes of the stream: its chunks' text, joined."""
    out = []
    with sdk(proxy) as client:
        for c in client.chat.completions.create(model="m", messages=CHAT["messages"], stream=True):
            for choice in getattr(c, "choices", None) or []:
                out.append(choice.delta.content or "")
    return "".join(out)


@pytest.mark.parametrize("mode", ["buffer", "incremental"])
def test_a_lone_cr_cannot_hide_an_event_from_the_validators(make_proxy, mode):
    """SSE lines may end in CR alone (the openai SDK splits on it): an event line that llmvet read as
    one line but the client reads as two would carry text no validator saw."""
    hidden = b"event: response.x\rdata: " + chunk(f"key {SECRET}") + b"\n\n"
    writes = [
        b"data: " + chunk("Hello.\n") + b"\n\n",
        hidden,
        b"data: " + chunk(None, "stop") + b"\n\n",
        b"data: [DONE]\n\n",
    ]
    with RawUpstream(sse_answer(writes)) as up:
        proxy = make_proxy(BLOCKING + f"    stream: {{mode: {mode}}}\n", upstream=up.url + "/v1")
        try:
            text = sdk_stream_text(proxy)
        except openai.APIError as exc:  # blocked before anything went out
            assert exc.code == "blocked_by_policy"
            text = ""
        raw = httpx.post(proxy.url + "/v1/chat/completions", json={**CHAT, "stream": True}, timeout=30).content
    assert SECRET not in text
    assert SECRET.encode() not in raw


@pytest.mark.parametrize("mode", ["buffer", "incremental", "passthrough"])
def test_crlf_line_ends_split_across_reads_still_parse(make_proxy, mode):
    """A valid CRLF stream whose CR and LF arrive in different reads is one stream of events, not a 502."""
    events = [b"data: " + chunk(w) + b"\r\n\r\n" for w in ("Hello ", "there.\n")]
    events += [b"data: " + chunk(None, "stop") + b"\r\n\r\n", b"data: [DONE]\r\n\r\n"]
    writes = [piece for e in events for piece in (e[:-3], e[-3:-1], e[-1:])]  # ...\r | \n\r | \n
    with RawUpstream(sse_answer(writes)) as up:
        proxy = make_proxy(BLOCKING + f"    stream: {{mode: {mode}}}\n", upstream=up.url + "/v1")
        assert sdk_stream_text(proxy) == "Hello there.\n"
