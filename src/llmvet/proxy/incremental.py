"""`stream.mode: incremental`: release a streamed answer as it arrives, up to what every check cleared.

Segment validators (regex, packages) check each run of complete segments as it arrives; an event is
forwarded, as the upstream's own bytes, once every part of the answer it adds text to is cleared by
every segment validator reading that part. Whole-answer validators (uncertainty, consistency) let text
through and decide at the end. Validators that need the whole answer first hold everything back.
Events that close a choice or repeat text whole are held to the end, so a late finding can still
stop the stream: every choice then finishes with `content_filter` and the `llmvet` field says why.
Nothing is released before the first clearance, so a finding in the first segment gets the same
OpenAI error a buffered stream gets.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.responses import Response

from llmvet.policy.engine import Decision
from llmvet.proxy import sse, tracing
from llmvet.proxy.answer import Answer, strip_llmvet_field
from llmvet.proxy.errors import ProxyError, upstream_bad_response
from llmvet.proxy.exchange import Exchange
from llmvet.proxy.incremental_run import STOPS, IncrementalRun
from llmvet.proxy.keepalive import KeepAliveStream
from llmvet.proxy.recording import finish
from llmvet.proxy.render import Renderer, stream_broken
from llmvet.proxy.runtime import Runtime
from llmvet.proxy.upstream import response_headers
from llmvet.proxy.vetting import Vetter
from llmvet.proxy.wires.base import payloads

Read = Callable[[], Awaitable[bytes]]  # the upstream's next chunk, b"" at the end (see Upstream.reader)


class Incremental:
    def __init__(self, rt: Runtime, vetter: Vetter, render: Renderer) -> None:
        self.rt, self.vetter, self.render = rt, vetter, render

    async def stream(self, ex: Exchange) -> Response:
        upstream = self.rt.upstream
        run = IncrementalRun(self.rt, self.vetter, self.render, ex)
        run.start_early()  # before the upstream's first byte: re-asks overlap its whole answer
        try:
            with tracing.upstream_call(ex.headers, "answer", stream=True) as call:
                resp = await upstream.open("POST", ex.wire.path, ex.headers, ex.payload, vetted=True)
                tracing.upstream_status(call, resp.status)
        except BaseException:
            run.cancel_early()
            raise
        headers = response_headers(resp, drop_encoding=True)
        if resp.status != 200 or resp.content_type != "text/event-stream":
            run.cancel_early()
            raw = strip_llmvet_field(await upstream.read_and_release(resp))
            answer = Answer(resp.status, headers, raw)
            if resp.status != 200:
                return await self.vetter.upstream_error(ex, answer)
            raise upstream_bad_response("a stream was asked for, but the body is not an event stream")
        started = time.perf_counter()
        read = upstream.reader(resp, whole=True)
        try:
            first, done = await self.until_first_release(run, read)
        except BaseException:
            resp.close()
            run.cancel_early()
            raise
        if done and not first:  # stopped, or complete, before anything went out: decide as buffered
            resp.close()
            decision = await run.final_decision()
            ex.validate_ms += (time.perf_counter() - started) * 1000
            return await self.render.act(ex, run.answer(headers), decision)
        out_headers = {**headers, **self.render.decision_headers(ex, Decision("allow", ex.rule.name))}
        out_headers["x-llmvet-decision"] = "incremental"  # the final decision is in the last event
        relay = self.relay(run, read, resp, first, done, headers)
        return KeepAliveStream(relay, ex.rule.rule.stream.keepalive, headers=out_headers)

    async def until_first_release(self, run: IncrementalRun, read: Read) -> tuple[list[bytes], bool]:
        """The events that go out first, once some text is cleared (events before it, e.g. the one naming
        the role, wait for it: until then a finding still gets the buffered error), and whether the
        stream is over."""
        first: list[bytes] = []
        while chunk := await read():
            first += await run.take_chunk(chunk)
            if run.stopped is not None:  # flagged in the first words: the buffered stream's error, nothing sent
                return [], True
            if run.text_out:
                return first, run.complete
            if run.complete:
                return [], True
        _complete(run, run.parser)
        return [], True

    async def relay(
        self,
        run: IncrementalRun,
        read: Read,
        resp: Any,
        first: list[bytes],
        done: bool,
        headers: dict[str, str],
    ) -> AsyncIterator[bytes]:
        ex = run.ex
        parser = run.parser
        failure: ProxyError | None = None
        relayed = False
        try:
            yield b"".join(first)
            if not done:
                while chunk := await read():
                    out = await run.take_chunk(chunk)
                    if out:
                        yield out[0] if len(out) == 1 else b"".join(out)
                    if run.stopped is not None or run.complete:  # complete: not a wait for the upstream to close
                        break
                else:
                    _complete(run, parser)
            relayed = run.stopped is None
        except ProxyError as exc:  # cut off or malformed after text went out: end cleanly, say why
            failure = exc
        finally:
            resp.close()  # on client disconnect this cancels the upstream request too
            if not relayed:  # cut off, stopped, or the client left: begun re-asks are not needed
                run.cancel_early()
        # The record is written before the last bytes go out: a client that has read the whole stream
        # finds its decision in the audit log and the metrics.
        if failure is not None:
            finish(self.rt, ex, run.answer(headers), None, 502)
            yield stream_broken(run.ex.wire, run.events, failure)
            return
        decision = await run.final_decision()
        final = "block" if decision.action in STOPS else decision.action
        finish(self.rt, ex, run.answer(headers), decision, 200, final_action=final)
        yield self.ending(run, decision)

    def ending(self, run: IncrementalRun, decision: Decision) -> bytes:
        """What follows the released text: the held events (annotated or with the notice appended), or
        the content_filter stop."""
        ex, wire = run.ex, run.ex.wire
        note = self.render.annotation(ex, decision)
        held = run.events[run.released :]
        if decision.action in STOPS:
            note["decision"] = "block"
            return wire.encode(wire.stream_stop(payloads(run.events), note))
        if decision.action == "allow":
            return b"".join(e.raw for e in held)
        items = wire.stream_append(held, ex.rule.rule.append.text) if decision.action == "append" else payloads(held)
        last = max((i for i, p in enumerate(items) if isinstance(p, dict)), default=None)
        if last is None:
            items.insert(0, {"llmvet": note})
        else:
            items[last] = {**items[last], "llmvet": note}
        return wire.encode(items)


def _complete(run: IncrementalRun, parser: sse.SSEParser) -> None:
    if parser.pending.strip() or not run.ex.wire.stream_complete(run.events):
        raise upstream_bad_response("the stream ended before it was complete")
