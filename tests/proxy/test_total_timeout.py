"""LLMVET_UPSTREAM_TOTAL_TIMEOUT: an upstream that trickles its answer (a byte or an event now and then,
never silent for long enough to trip the read timeout) is cut off once the whole answer has taken too
long, buffered or streamed, with the same clean 504 / error event as a silent one."""

from __future__ import annotations

import asyncio

import httpx
import orjson

from tests.support.raw_upstream import CHAT, RawRequest, RawUpstream, chat_body
from tests.support.raw_upstream import chat_chunk as chunk

BLOCKING = """
rules:
  - name: vet
    validators: [{use: regex, with: {must_not_match: ["SECRET"]}}]
    on_fail: block
"""
TRICKLE = 0.05  # seconds between writes: far under the read timeout below


def trickled_json(pieces: int):
    """A whole chat completion with its Content-Length, in `pieces` writes TRICKLE seconds apart: one byte
    each, the last one carrying the rest."""
    body = chat_body("a fine answer")

    async def answer(request: RawRequest):
        yield f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        for i in range(pieces - 1):
            yield body[i : i + 1]
            await asyncio.sleep(TRICKLE)
        yield body[pieces - 1 :]

    return answer


def trickled_events(events: int):
    """An event stream of `events` one-word chunks, TRICKLE seconds apart, then [DONE]."""

    async def answer(request: RawRequest):
        yield b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
        for i in range(events):
            yield b"data: " + chunk(f"word{i} ") + b"\n\n"
            await asyncio.sleep(TRICKLE)
        yield b"data: [DONE]\n\n"

    return answer


def post(proxy, body):
    return httpx.post(proxy.url + "/v1/chat/completions", json=body, timeout=60)


def test_a_trickled_answer_is_cut_off_at_the_total_timeout(make_proxy):
    with RawUpstream(trickled_json(400)) as up:  # 400 writes: ~20 s in all, never silent for 0.05 s
        proxy = make_proxy(BLOCKING, upstream=up.url + "/v1", upstream_read_timeout=2, upstream_total_timeout=0.6)
        r = post(proxy, CHAT)
        assert r.status_code == 504, r.text
        err = r.json()["error"]
        assert err["code"] == "upstream_timeout"
        assert err["message"] == "the upstream did not finish its answer within 0.6s"
        assert up.answers_done == 0  # cut off, not waited out
    assert b"a fine answer" not in r.content


def test_a_trickled_stream_ends_with_an_error_event(make_proxy):
    with RawUpstream(trickled_events(400)) as up:
        proxy = make_proxy(
            BLOCKING + "    stream: {mode: incremental}\n",
            upstream=up.url + "/v1",
            upstream_read_timeout=2,
            upstream_total_timeout=0.6,
        )
        r = post(proxy, {**CHAT, "stream": True})
        assert up.answers_done == 0
    assert r.status_code == 200 and r.text.endswith("data: [DONE]\n\n")  # text went out: no status can change
    events = [orjson.loads(line[6:]) for line in r.text.split("\n") if line.startswith("data: {")]
    assert events[-1]["llmvet"]["error"]["code"] == "upstream_timeout"
    assert "did not finish its answer within 0.6s" in events[-1]["llmvet"]["error"]["message"]
    said = "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e.get("choices"))
    assert said.startswith("word0 ") and "word399" not in said


def test_without_a_total_timeout_a_slow_answer_comes_whole(make_proxy):
    with RawUpstream(trickled_json(30)) as up:  # ~1.5 s in all, each write well within the read timeout
        proxy = make_proxy(BLOCKING, upstream=up.url + "/v1", upstream_read_timeout=2)
        r = post(proxy, CHAT)
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == "a fine answer"
