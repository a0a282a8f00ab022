"""A hostile or misconfigured upstream's answers: too large to hold, compressed, framed to fool a parser.

The upstream is a raw loopback server (tests.support.raw_upstream) that writes exactly the bytes a test
scripts; the client is the openai SDK or raw httpx, and the tests assert on the bytes it gets.
"""

from __future__ import annotations

import asyncio
import gzip
import threading
import time
import zlib

import httpx
import openai
import orjson
import pytest

from tests.support.raw_upstream import CHAT, RawRequest, RawUpstream, chat_body, http_response
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


# ---- answers too large to hold -------------------------------------------------------------------------

LIMIT = 64 * 1024
PIECE = 8 * 1024
PIECES = 2048  # 16 MiB in all: more than any socket buffer holds, so a cut reaches the upstream


def sse_events(n: int) -> list[bytes]:
    return [b"data: " + chunk("A line of words.\n" * 8) + b"\n\n" for _ in range(n)]


async def pieces(head: bytes, body: bytes | None = None, pause: float = 0.0):
    yield head
    for i in range(PIECES):
        if pause and i < 16:  # the first pieces come apart, as a model's events do
            await asyncio.sleep(pause)
        yield body if body is not None else b"x" * PIECE


def huge(kind: str):
    """An upstream answer of 16 MiB: a JSON body (with or without Content-Length), or an event stream."""
    if kind == "content-length":
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {PIECE * PIECES + 2}\r\n\r\n"
        return lambda r: pieces(head.encode() + b'"')
    if kind == "close-delimited":
        return lambda r: pieces(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"')
    events = b"".join(sse_events(PIECE // len(sse_events(1)[0])))
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
    return lambda r: pieces(head, events, pause=0.02)


@pytest.mark.parametrize(
    ("kind", "mode", "stream"),
    [
        ("content-length", "buffer", False),
        ("close-delimited", "buffer", False),
        ("events", "buffer", True),
        ("events", "incremental", True),
        ("events", "passthrough", True),
    ],
)
def test_an_upstream_answer_over_the_limit_is_refused(make_proxy, tmp_path, kind, mode, stream):
    """llmvet holds at most LLMVET_UPSTREAM_MAX_BODY_BYTES of an answer it reads whole: past that the
    client gets a 502 saying so (or, once text went out, a stream that ends saying so) and the
    upstream's connection is closed."""
    with RawUpstream(huge(kind)) as up:
        proxy = make_proxy(
            BLOCKING + f"    stream: {{mode: {mode}}}\n", upstream=up.url + "/v1", upstream_max_body_bytes=LIMIT
        )
        r = httpx.post(proxy.url + "/v1/chat/completions", json={**CHAT, "stream": stream}, timeout=60)
        deadline = time.monotonic() + 10
        while up.cut_by_client == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert up.cut_by_client == 1  # llmvet stopped reading and closed the connection
    if mode == "buffer":
        assert r.status_code == 502
        err = r.json()["error"]
        assert err["code"] == "upstream_too_large" and f"{LIMIT}-byte" in err["message"]
        assert len(r.content) < 1024
    else:  # text went out: the stream ends saying why
        assert r.status_code == 200 and len(r.content) < 2 * LIMIT
        last = orjson.loads(r.content.rsplit(b"data: ", 2)[-2])
        assert last["llmvet"]["error"]["code"] == "upstream_too_large"
        assert r.content.endswith(b"data: [DONE]\n\n")
    records = audit_records(tmp_path)  # audited as an upstream error is, with the status the client got
    assert [(rec["action"], rec["status"]) for rec in records] == [("upstream_error", 502)]
    assert records[0]["request_id"] == r.headers["x-llmvet-request-id"]


def test_a_passed_through_stream_without_event_ends_flows_on_as_it_came(make_proxy):
    """An unvetted stream is relayed as it arrives even when it never ends an event: llmvet's look for
    `llmvet` fields holds at most LLMVET_UPSTREAM_MAX_BODY_BYTES of an unfinished event, then lets the
    rest through untouched."""
    sent: list[bytes] = [b"data: " + b"x" * (PIECE - 6)] + [b"y" * PIECE] * 255 + [b"\n\n"]
    client_has_half = threading.Event()
    released_early = False

    async def stream(request: RawRequest):
        yield b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
        for piece in sent[:128]:
            yield piece
        await asyncio.to_thread(client_has_half.wait, 20)  # on until the client has the first half
        for piece in sent[128:]:
            yield piece

    with RawUpstream(stream) as up:
        proxy = make_proxy("rules: []", upstream=up.url + "/v1", upstream_max_body_bytes=LIMIT)
        got = b""
        with httpx.stream("POST", proxy.url + "/v1/chat/completions", json={**CHAT, "stream": True}, timeout=60) as r:
            for part in r.iter_raw():
                got += part
                if len(got) >= 128 * PIECE and not client_has_half.is_set():
                    released_early = up.answers_done == 0
                    client_has_half.set()
    assert released_early  # the first half arrived before the upstream sent the second
    assert got == b"".join(sent)


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


# ---- compressed answers on vetted routes -------------------------------------------------------------


def compressed(encoding: str, body: bytes) -> bytes:
    return gzip.compress(body) if encoding == "gzip" else zlib.compress(body)


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
@pytest.mark.parametrize("mode", ["json", "buffer", "incremental", "passthrough"])
def test_a_compressed_answer_on_a_vetted_route_never_reaches_the_client(make_proxy, mode, encoding):
    """llmvet asks for `Accept-Encoding: identity` on vetted routes; an upstream that compresses anyway
    gets a 502, and none of its bytes reach the client (compressed, they would pass every validator)."""
    stream = mode != "json"
    if stream:
        plain = b"".join(
            [
                b"data: " + chunk(f"key {SECRET}") + b"\n\n",
                b"data: " + chunk(None, "stop") + b"\n\n",
                b"data: [DONE]\n\n",
            ]
        )
        kind = "text/event-stream"
    else:
        plain, kind = chat_body(f"key {SECRET}"), "application/json"
    body = compressed(encoding, plain)
    answer = http_response("200 OK", [("Content-Type", kind), ("Content-Encoding", encoding)], body)
    policy = None if mode == "json" else f"{BLOCKING}    stream: {{mode: {mode}}}\n"  # json: the default policy
    with RawUpstream(lambda r: answer) as up:
        proxy = make_proxy(policy, upstream=up.url + "/v1")
        r = httpx.post(proxy.url + "/v1/chat/completions", json={**CHAT, "stream": stream}, timeout=30)
    assert up.requests[0].header("accept-encoding") == ["identity"]
    assert r.status_code == 502
    err = r.json()["error"]
    assert err["code"] == "upstream_bad_response" and f"Content-Encoding: {encoding}" in err["message"]
    assert body not in r.content and body[:16] not in r.content and SECRET.encode() not in r.content


@pytest.mark.parametrize("mode", ["json", "passthrough"])
def test_a_transfer_coded_answer_on_a_vetted_route_never_reaches_the_client(make_proxy, mode):
    stream = mode != "json"
    plain = b"data: " + chunk(f"key {SECRET}") + b"\n\ndata: [DONE]\n\n" if stream else chat_body(f"key {SECRET}")
    body = gzip.compress(plain)
    framed = f"{len(body):x}".encode() + b"\r\n" + body + b"\r\n0\r\n\r\n"
    kind = "text/event-stream" if stream else "application/json"
    answer = f"HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nTransfer-Encoding: gzip, chunked\r\n\r\n".encode() + framed
    policy = None if mode == "json" else f"{BLOCKING}    stream: {{mode: {mode}}}\n"
    with RawUpstream(lambda r: answer) as up:
        proxy = make_proxy(policy, upstream=up.url + "/v1")
        r = httpx.post(proxy.url + "/v1/chat/completions", json={**CHAT, "stream": stream}, timeout=30)
    assert r.status_code == 502
    assert "Transfer-Encoding: gzip" in r.json()["error"]["message"]
    assert body[:16] not in r.content and SECRET.encode() not in r.content


# ---- statuses ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["201 Created", "203 Non-Authoritative Information", "299 Odd"])
@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("mode", ["buffer", "incremental", "passthrough"])
def test_a_success_other_than_200_is_not_relayed_unvetted(make_proxy, status, stream, mode):
    """llmvet vets 200 answers and relays errors as they came; the SDK takes any 2xx for an answer, so
    an upstream answering 201 would pass every validator. It is a 502."""
    if stream:
        body = b"data: " + chunk(f"key {SECRET}") + b"\n\ndata: " + chunk(None, "stop") + b"\n\ndata: [DONE]\n\n"
        answer = http_response(status, [("Content-Type", "text/event-stream")], body)
    else:
        answer = http_response(status, [("Content-Type", "application/json")], chat_body(f"key {SECRET}"))
    with RawUpstream(lambda r: answer) as up:
        proxy = make_proxy(BLOCKING + f"    stream: {{mode: {mode}}}\n", upstream=up.url + "/v1")
        r = httpx.post(proxy.url + "/v1/chat/completions", json={**CHAT, "stream": stream}, timeout=30)
    assert r.status_code == 502, r.content
    assert f"unexpected status {status[:3]}" in r.json()["error"]["message"]
    assert SECRET.encode() not in r.content
