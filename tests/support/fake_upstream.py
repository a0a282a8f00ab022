"""A loopback fake of the OpenAI API: chat completions, completions and responses, in JSON and SSE.

Tests script it through `FakeUpstream.responder` (request body -> Reply) and read what it received in
`FakeUpstream.requests`. It runs under uvicorn on a free port (see tests.support.servers.ThreadedServer).
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route


@dataclass
class Reply:
    text: str | list[str] = "Hello from the fake upstream."  # a list gives one text per choice (`n`)
    status: int = 200
    error: dict[str, Any] | None = None  # error body for status != 200
    delay: float = 0.0  # seconds before answering
    chunk_delay: float = 0.0  # seconds between SSE events
    cut_after: int | None = None  # streaming: drop the connection after this many events
    malformed_after: int | None = None  # streaming: send a broken event after this many events
    linger: float = 0.0  # streaming: seconds the connection stays open after the last event
    writes: list[int] | None = None  # streaming: events per write, in order (the rest in one last write)
    ignore_n: bool = False  # behave like upstreams without the `n` parameter
    finish_reason: str = "stop"
    # A hostile or unusual upstream: these replace what the fake would build.
    headers: dict[str, str] = field(default_factory=dict)  # extra response headers
    body: dict[str, Any] | None = None  # the whole JSON body, sent as is
    events: list[Any] | None = None  # the whole stream: payloads, or (event name, payload) pairs


def echo(body: dict[str, Any]) -> Reply:
    """Default script: answer with the last user message, so concurrent requests are told apart."""
    from llmvet.text import prompt_text

    return Reply(text=f"echo: {prompt_text(body)}")


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: Any
    raw: bytes


@dataclass
class FakeUpstream:
    responder: Callable[[dict[str, Any]], Reply] = echo
    requests: list[Seen] = field(default_factory=list)
    streams_cancelled: int = 0
    streams_finished: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def reset(self, responder: Callable[[dict[str, Any]], Reply] = echo) -> None:
        with self._lock:
            self.responder = responder
            self.requests.clear()
            self.streams_cancelled = self.streams_finished = 0

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
                Route("/v1/completions", self.completions, methods=["POST"]),
                Route("/v1/responses", self.responses, methods=["POST"]),
                Route("/v1/models", self.models, methods=["GET"]),
                Route("/v1/embeddings", self.embeddings, methods=["POST"]),
                Route("/v1/files", self.files, methods=["POST"]),
            ]
        )

    # ---- plumbing -----------------------------------------------------------------------------
    async def _take(self, request: Request) -> tuple[dict[str, Any], Reply]:
        raw = await request.body()
        body = orjson.loads(raw)
        with self._lock:
            self.requests.append(Seen(request.url.path, dict(request.headers), body, raw))
        reply = self.responder(body)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        return body, reply

    def _error(self, reply: Reply) -> Response:
        err = reply.error or {
            "error": {"message": "scripted failure", "type": "server_error", "code": None, "param": None}
        }
        return Response(orjson.dumps(err), reply.status, headers=reply.headers, media_type="application/json")

    def _scripted(self, body: dict[str, Any], reply: Reply) -> Response | None:
        """The reply's own body or stream, when the test wrote one (hostile-upstream tests)."""
        if reply.status != 200:
            return self._error(reply)
        if body.get("stream") and reply.events is not None:
            return self._sse([e if isinstance(e, tuple) else (None, e) for e in reply.events], reply)
        if not body.get("stream") and reply.body is not None:
            return Response(orjson.dumps(reply.body), headers=reply.headers, media_type="application/json")
        return None

    def _texts(self, body: dict[str, Any], reply: Reply) -> list[str]:
        n = 1 if reply.ignore_n else int(body.get("n") or 1)
        texts = reply.text if isinstance(reply.text, list) else [reply.text]
        return [texts[i % len(texts)] for i in range(n)]

    def _sse(self, events: list[tuple[str | None, Any]], reply: Reply) -> StreamingResponse:
        if reply.writes is not None:
            return self._grouped(events, reply)

        async def gen() -> AsyncIterator[bytes]:
            try:
                for i, (name, data) in enumerate(events):
                    if i and reply.chunk_delay:  # between events: like a model, no pause after the last
                        await asyncio.sleep(reply.chunk_delay)
                    if reply.cut_after is not None and i >= reply.cut_after:
                        raise ConnectionAbortedError("scripted cut")  # uvicorn drops the connection
                    if reply.malformed_after is not None and i == reply.malformed_after:
                        yield b"data: {this is not json\n\n"
                    head = f"event: {name}\n".encode() if name else b""
                    payload = data.encode() if isinstance(data, str) else orjson.dumps(data)
                    if i == len(events) - 1:  # finished once the last event is on its way (a client may
                        with self._lock:  # hang up as soon as it has read it)
                            self.streams_finished += 1
                    yield head + b"data: " + payload + b"\n\n"
                if reply.linger:
                    await asyncio.sleep(reply.linger)
            except asyncio.CancelledError:
                with self._lock:
                    self.streams_cancelled += 1
                raise

        return StreamingResponse(gen(), headers=reply.headers, media_type="text/event-stream")

    def _grouped(self, events: list[tuple[str | None, Any]], reply: Reply) -> StreamingResponse:
        """A stream whose events arrive several to a write (`reply.writes`), `chunk_delay` apart."""
        blobs = [
            (f"event: {name}\n".encode() if name else b"")
            + b"data: "
            + (data.encode() if isinstance(data, str) else orjson.dumps(data))
            + b"\n\n"
            for name, data in events
        ]
        sizes = [*(reply.writes or []), len(blobs)]

        async def gen() -> AsyncIterator[bytes]:
            at = 0
            for n in sizes:
                if at >= len(blobs):
                    break
                if at and reply.chunk_delay:
                    await asyncio.sleep(reply.chunk_delay)
                if at + n >= len(blobs):
                    with self._lock:
                        self.streams_finished += 1
                yield b"".join(blobs[at : at + n])
                at += n

        return StreamingResponse(gen(), headers=reply.headers, media_type="text/event-stream")

    @staticmethod
    def _usage(body: dict[str, Any], texts: list[str]) -> dict[str, int]:
        prompt = len(orjson.dumps(body.get("messages") or body.get("prompt") or body.get("input") or "")) // 4
        completion = sum(len(t.split()) for t in texts)
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    # ---- routes -------------------------------------------------------------------------------------
    async def chat(self, request: Request) -> Response:
        body, reply = await self._take(request)
        if (scripted := self._scripted(body, reply)) is not None:
            return scripted
        texts = self._texts(body, reply)
        cid, created, model = f"chatcmpl-{next(self._ids)}", int(time.time()), body.get("model", "fake")
        usage = self._usage(body, texts)
        if not body.get("stream"):
            return Response(
                orjson.dumps(
                    {
                        "id": cid,
                        "object": "chat.completion",
                        "created": created,
                        "model": model,
                        "system_fingerprint": "fp_fake",
                        "choices": [
                            {
                                "index": i,
                                "message": {"role": "assistant", "content": t, "refusal": None},
                                "logprobs": None,
                                "finish_reason": reply.finish_reason,
                            }
                            for i, t in enumerate(texts)
                        ],
                        "usage": usage,
                    }
                ),
                headers=reply.headers,
                media_type="application/json",
            )
        base = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_fake",
        }
        events: list[tuple[str | None, Any]] = []
        for i, t in enumerate(texts):
            events.append(
                (
                    None,
                    {
                        **base,
                        "choices": [
                            {
                                "index": i,
                                "delta": {"role": "assistant", "content": ""},
                                "logprobs": None,
                                "finish_reason": None,
                            }
                        ],
                    },
                )
            )
            for piece in _pieces(t):
                events.append(
                    (
                        None,
                        {
                            **base,
                            "choices": [
                                {"index": i, "delta": {"content": piece}, "logprobs": None, "finish_reason": None}
                            ],
                        },
                    )
                )
            events.append(
                (
                    None,
                    {
                        **base,
                        "choices": [{"index": i, "delta": {}, "logprobs": None, "finish_reason": reply.finish_reason}],
                    },
                )
            )
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append((None, {**base, "choices": [], "usage": usage}))
        events.append((None, "[DONE]"))
        return self._sse(events, reply)

    async def completions(self, request: Request) -> Response:
        body, reply = await self._take(request)
        if (scripted := self._scripted(body, reply)) is not None:
            return scripted
        texts = self._texts(body, reply)
        cid, created, model = f"cmpl-{next(self._ids)}", int(time.time()), body.get("model", "fake")
        if not body.get("stream"):
            return Response(
                orjson.dumps(
                    {
                        "id": cid,
                        "object": "text_completion",
                        "created": created,
                        "model": model,
                        "choices": [
                            {"index": i, "text": t, "logprobs": None, "finish_reason": reply.finish_reason}
                            for i, t in enumerate(texts)
                        ],
                        "usage": self._usage(body, texts),
                    }
                ),
                headers=reply.headers,
                media_type="application/json",
            )
        base = {"id": cid, "object": "text_completion", "created": created, "model": model}
        events: list[tuple[str | None, Any]] = []
        for i, t in enumerate(texts):
            events += [
                (None, {**base, "choices": [{"index": i, "text": p, "logprobs": None, "finish_reason": None}]})
                for p in _pieces(t)
            ]
            done = {"index": i, "text": "", "logprobs": None, "finish_reason": reply.finish_reason}
            events.append((None, {**base, "choices": [done]}))
        events.append((None, "[DONE]"))
        return self._sse(events, reply)

    async def responses(self, request: Request) -> Response:
        body, reply = await self._take(request)
        if (scripted := self._scripted(body, reply)) is not None:
            return scripted
        text = self._texts({}, reply)[0]
        rid, msg_id, created = f"resp_{next(self._ids)}", f"msg_{next(self._ids)}", int(time.time())
        usage = self._usage(body, [text])
        message = {
            "id": msg_id,
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": []}],
        }
        response = {
            "id": rid,
            "object": "response",
            "created_at": created,
            "status": "completed",
            "model": body.get("model"),
            "output": [message],
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "usage": {
                "input_tokens": usage["prompt_tokens"],
                "output_tokens": usage["completion_tokens"],
                "total_tokens": usage["total_tokens"],
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens_details": {"reasoning_tokens": 0},
            },
        }
        if not body.get("stream"):
            return Response(orjson.dumps(response), headers=reply.headers, media_type="application/json")
        in_progress = {**response, "status": "in_progress", "output": [], "usage": None}
        empty_item = {**message, "status": "in_progress", "content": []}
        seq = itertools.count()
        events: list[tuple[str | None, Any]] = []

        def ev(kind: str, **fields: Any) -> None:
            events.append((kind, {"type": kind, "sequence_number": next(seq), **fields}))

        ev("response.created", response=in_progress)
        ev("response.in_progress", response=in_progress)
        ev("response.output_item.added", output_index=0, item=empty_item)
        ev(
            "response.content_part.added",
            item_id=msg_id,
            output_index=0,
            content_index=0,
            part={"type": "output_text", "text": "", "annotations": []},
        )
        for piece in _pieces(text):
            ev("response.output_text.delta", item_id=msg_id, output_index=0, content_index=0, delta=piece, logprobs=[])
        ev("response.output_text.done", item_id=msg_id, output_index=0, content_index=0, text=text, logprobs=[])
        ev(
            "response.content_part.done",
            item_id=msg_id,
            output_index=0,
            content_index=0,
            part={"type": "output_text", "text": text, "annotations": []},
        )
        ev("response.output_item.done", output_index=0, item=message)
        ev("response.completed", response=response)
        return self._sse(events, reply)

    async def models(self, request: Request) -> Response:
        with self._lock:
            self.requests.append(Seen(request.url.path, dict(request.headers), None, b""))
        extra = self.responder({"model": "models"}).headers  # hostile-upstream tests set headers here too
        return Response(
            orjson.dumps(
                {
                    "object": "list",
                    "data": [
                        {"id": "fake-model", "object": "model", "created": 1700000000, "owned_by": "llmvet-tests"},
                        {"id": "gpt-4o-mini", "object": "model", "created": 1700000000, "owned_by": "llmvet-tests"},
                    ],
                }
            ),
            headers=extra,
            media_type="application/json",
        )

    async def embeddings(self, request: Request) -> Response:
        raw = await request.body()
        with self._lock:
            self.requests.append(Seen(request.url.path, dict(request.headers), orjson.loads(raw), raw))
        # A deliberately odd byte layout (spacing, key order) to prove pass-through is byte-for-byte.
        body = (
            b'{"object": "list",  "data": [{"object": "embedding", "index": 0, "embedding": [0.5, -0.25]}],'
            b' "model": "fake-embed", "usage": {"prompt_tokens": 2, "total_tokens": 2}}'
        )
        return Response(body, headers={"x-fake-header": "kept"}, media_type="application/json")

    async def files(self, request: Request) -> Response:
        raw = await request.body()
        with self._lock:
            self.requests.append(Seen(request.url.path, dict(request.headers), None, raw))
        return Response(
            raw,
            headers={"x-received-bytes": str(len(raw))},
            media_type=request.headers.get("content-type", "application/octet-stream"),
        )


def _pieces(text: str, size: int = 7) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]
