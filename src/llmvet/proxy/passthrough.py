"""Requests llmvet does not vet: other /v1 paths byte for byte, unvetted requests, audit-only streams."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from llmvet.proxy import sse, tracing
from llmvet.proxy.answer import Answer, event_without_llmvet, strip_llmvet_field
from llmvet.proxy.errors import ProxyError, body_too_large
from llmvet.proxy.exchange import Exchange
from llmvet.proxy.recording import finish
from llmvet.proxy.render import stream_broken
from llmvet.proxy.runtime import Runtime
from llmvet.proxy.upstream import response_headers
from llmvet.proxy.vetting import Vetter

SMALL_BODY = 1 << 20  # read bodies under this in one go: no chunked framing


class LimitedBody:
    """The request body as it streams upstream, cut off past `limit` bytes. The upstream client wraps
    whatever stops the upload in its own error, so the route asks `exceeded` to answer 413."""

    def __init__(self, chunks: AsyncIterator[bytes], limit: int) -> None:
        self.chunks = chunks
        self.limit = limit
        self.exceeded = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        size = 0
        async for chunk in self.chunks:
            size += len(chunk)
            if size > self.limit:
                self.exceeded = True
                raise body_too_large(self.limit)
            yield chunk


async def scrubbed_events(
    chunks: AsyncIterator[bytes], seen: list[sse.Event] | None = None, limit: int | None = None
) -> AsyncIterator[bytes]:
    """Relay an SSE stream event by event, dropping any `llmvet` field from an event's data; the
    events are also collected in `seen`. A stream that does not parse, or has an event over `limit`
    bytes, is relayed as it came from there on."""
    parser: sse.SSEParser | None = sse.SSEParser(limit)
    async for chunk in chunks:
        if parser is None:
            yield chunk
            continue
        try:
            events, rest = parser.feed(chunk), b""
        except sse.StreamError as exc:  # not SSE after all: the rest goes through untouched
            events, rest, parser = exc.events, exc.rest, None
        out = []
        for e in map(event_without_llmvet, events):
            out.append(e.raw)
            if seen is not None:
                seen.append(e)
        if rest:
            out.append(rest)
        if out:
            yield b"".join(out)
    if parser is not None and parser.pending:
        yield parser.pending


class Passthrough:
    def __init__(self, rt: Runtime, vetter: Vetter) -> None:
        self.rt = rt
        self.vetter = vetter
        self._audits: set[asyncio.Future[None]] = set()  # audits of streams already sent (kept from GC)

    async def close(self) -> None:
        """Let the audits of streams already sent finish: at shutdown, before the upstream client and the
        audit log close under them (the shutdown step bounds the wait and cancels what is left)."""
        await asyncio.gather(*self._audits, return_exceptions=True)

    async def route(self, request: Request) -> Response:
        """Everything else under /v1, byte for byte (files, models, embeddings...)."""
        path = "/" + request.path_params["path"]
        if request.url.query:
            path += "?" + request.url.query
        try:
            self.rt.check_headers(request)
            key_hash, _ = self.rt.key_identity(request)
            headers = self.rt.upstream_headers(request, key_hash, vetted=False)
            limit = self.rt.settings.max_body_bytes
            length = request.headers.get("content-length")
            if length:
                if length.isdigit() and int(length) > limit:
                    raise body_too_large(limit)
                headers["Content-Length"] = length
            body = LimitedBody(request.stream(), limit) if request.method not in ("GET", "HEAD") else None
            try:
                return await self.forward(request.method, path, headers, body)
            except ProxyError:
                if body is not None and body.exceeded:
                    raise body_too_large(limit) from None
                raise
        except ProxyError as exc:
            return exc.response()

    async def forward(
        self,
        method: str,
        path: str,
        headers: Any,
        body: Any,
        extra: dict[str, str] | None = None,
        *,
        openai_route: bool = False,
    ) -> Response:
        """Relay one request. On the OpenAI routes (`openai_route`) an `llmvet` field the upstream put
        in its JSON body or stream events is dropped: that name is llmvet's alone."""
        upstream = self.rt.upstream
        with tracing.upstream_call(headers, "forward") as call:  # only under a request span (unvetted rules)
            resp = await upstream.open(method, path, headers, body)
            tracing.upstream_status(call, resp.status)
        out_headers = response_headers(resp, drop_encoding=False)
        if extra:
            out_headers.update(extra)
        length = resp.content_length
        scrub = openai_route and "content-encoding" not in resp.headers
        if length is not None and length < min(SMALL_BODY, upstream.max_body_bytes):
            raw = await upstream.read_and_release(resp)
            if scrub and b'"llmvet"' in raw:
                raw = strip_llmvet_field(raw)
                out_headers = {k: v for k, v in out_headers.items() if k.lower() != "content-length"}
            return Response(raw, resp.status, headers=out_headers)
        chunks = upstream.iter_chunks(resp)
        if scrub and resp.content_type == "text/event-stream":
            chunks = scrubbed_events(chunks, limit=upstream.max_body_bytes)

        async def relay() -> AsyncIterator[bytes]:
            try:
                async for chunk in chunks:
                    yield chunk
            finally:
                resp.close()  # on client disconnect this cancels the upstream request too

        return StreamingResponse(relay(), resp.status, headers=out_headers)

    async def stream_then_vet(self, ex: Exchange) -> Response:
        """`stream.mode: passthrough`: bytes flow as they arrive; the verdict is only audited afterwards."""
        upstream = self.rt.upstream
        with tracing.upstream_call(ex.headers, "answer", stream=True) as call:
            resp = await upstream.open("POST", ex.wire.path, ex.headers, ex.payload, vetted=True)
            tracing.upstream_status(call, resp.status)
        headers = {**response_headers(resp, drop_encoding=True), "x-llmvet-request-id": ex.request_id}
        if resp.status != 200:  # relayed as it came, like the stream; its text vetted for the audit
            raw = strip_llmvet_field(await upstream.read_and_release(resp))
            headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
            answer = Answer(resp.status, headers, raw)
            decision = await self.vetter.decide_error(ex, answer)
            finish(self.rt, ex, answer, decision, resp.status, final_action="upstream_error")
            return Response(raw, resp.status, headers=headers)

        async def relay() -> AsyncIterator[bytes]:
            events: list[sse.Event] = []
            failure: ProxyError | None = None
            try:
                async for chunk in scrubbed_events(
                    upstream.iter_chunks(resp, whole=True), events, upstream.max_body_bytes
                ):
                    yield chunk
            except ProxyError as exc:  # cut off or too large after bytes went out: end cleanly, say why
                failure = exc
            finally:
                resp.close()
                # Clients hang up once they read the last event, which may cancel this generator before
                # the upstream's stream has closed: a complete answer is vetted and audited all the same.
                if failure is None and ex.wire.stream_complete(events):
                    answer = Answer(200, headers, events=events, text=ex.wire.stream_text(events))
                    task = asyncio.ensure_future(self.audit_stream(ex, answer))
                    self._audits.add(task)
                    task.add_done_callback(self._audits.discard)
            if failure is not None:
                finish(self.rt, ex, Answer(200, headers, events=events, text=ex.wire.stream_text(events)), None, 502)
                yield stream_broken(ex.wire, events, failure)

        return StreamingResponse(relay(), 200, headers=headers, media_type="text/event-stream")

    async def audit_stream(self, ex: Exchange, answer: Answer) -> None:
        decision = await self.vetter.decide(ex, answer)
        # Already sent: the record says "allow"; policy_action says what the policy would have done.
        finish(self.rt, ex, answer, decision, 200, final_action="allow")
