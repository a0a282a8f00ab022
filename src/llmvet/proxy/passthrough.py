"""Requests llmvet does not vet: other /v1 paths byte for byte, unvetted requests, audit-only streams."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from llmvet.proxy import sse
from llmvet.proxy.answer import Answer
from llmvet.proxy.errors import ProxyError
from llmvet.proxy.exchange import Exchange
from llmvet.proxy.recording import finish
from llmvet.proxy.runtime import Runtime
from llmvet.proxy.upstream import response_headers
from llmvet.proxy.vetting import Vetter

SMALL_BODY = 1 << 20  # read bodies under this in one go: no chunked framing


class Passthrough:
    def __init__(self, rt: Runtime, vetter: Vetter) -> None:
        self.rt = rt
        self.vetter = vetter

    async def route(self, request: Request) -> Response:
        """Everything else under /v1, byte for byte (files, models, embeddings...)."""
        path = "/" + request.path_params["path"]
        if request.url.query:
            path += "?" + request.url.query
        key_hash, _ = self.rt.key_identity(request)
        headers = self.rt.upstream_headers(request, key_hash, vetted=False)
        length = request.headers.get("content-length")
        if length:
            headers["Content-Length"] = length
        body = request.stream() if request.method not in ("GET", "HEAD") else None
        try:
            return await self.forward(request.method, path, headers, body)
        except ProxyError as exc:
            return exc.response()

    async def forward(
        self, method: str, path: str, headers: Any, body: Any, extra: dict[str, str] | None = None
    ) -> Response:
        upstream = self.rt.upstream
        resp = await upstream.open(method, path, headers, body)
        out_headers = response_headers(resp, drop_encoding=False)
        if extra:
            out_headers.update(extra)
        length = resp.headers.get("content-length")
        if length is not None and int(length) < SMALL_BODY:
            return Response(await upstream.read_and_release(resp), resp.status, headers=out_headers)

        async def relay() -> AsyncIterator[bytes]:
            try:
                async for chunk in upstream.iter_chunks(resp):
                    yield chunk
            finally:
                resp.close()  # on client disconnect this cancels the upstream request too

        return StreamingResponse(relay(), resp.status, headers=out_headers)

    async def stream_then_vet(self, ex: Exchange) -> Response:
        """`stream.mode: passthrough`: bytes flow as they arrive; the verdict is only audited afterwards."""
        upstream = self.rt.upstream
        resp = await upstream.open("POST", ex.wire.path, ex.headers, ex.payload)
        headers = {**response_headers(resp, drop_encoding=True), "x-llmvet-request-id": ex.request_id}
        if resp.status != 200:
            return Response(await upstream.read_and_release(resp), resp.status, headers=headers)

        async def relay() -> AsyncIterator[bytes]:
            parser, events = sse.SSEParser(), []
            try:
                async for chunk in upstream.iter_chunks(resp):
                    with contextlib.suppress(sse.StreamError):
                        events.extend(parser.feed(chunk))
                    yield chunk
            finally:
                resp.close()
            answer = Answer(200, headers, events=events, text=ex.wire.stream_text(events))
            decision = await self.vetter.decide(ex, answer)
            # Already sent: the record says "allow"; policy_action says what the policy would have done.
            finish(self.rt, ex, answer, decision, 200, final_action="allow")

        return StreamingResponse(relay(), 200, headers=headers, media_type="text/event-stream")
