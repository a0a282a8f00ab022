"""The vetting loop: ask the upstream, let the policy decide, re-ask with feedback, then render."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from starlette.responses import Response

from llmvet import spans
from llmvet.policy.engine import Decision, combine, evaluate
from llmvet.proxy import sse, tracing
from llmvet.proxy.answer import Answer, error_text, json_object, without_llmvet_field
from llmvet.proxy.errors import upstream_bad_response
from llmvet.proxy.exchange import Exchange
from llmvet.proxy.render import Renderer
from llmvet.proxy.runtime import INTERNAL_HEADER, Runtime
from llmvet.proxy.upstream import response_headers
from llmvet.proxy.wires import Part
from llmvet.proxy.wires.base import first_content
from llmvet.validators.base import Context, ReaskResult


class Vetter:
    def __init__(self, rt: Runtime, render: Renderer) -> None:
        self.rt = rt
        self.render = render

    async def vet(self, ex: Exchange) -> Response:
        answer = await self.ask(ex, ex.payload)
        if answer.status != 200:
            return await self.upstream_error(ex, answer)
        decision = await self.decide(ex, answer)
        conversation = ex.body
        reask = ex.rule.rule.reask
        while decision.action == "reask":
            if ex.reasks >= reask.attempts:
                decision.action = reask.fallback
                break
            ex.reasks += 1
            feedback = reask.feedback.format(findings=_bullets(decision))
            messages = ex.wire.conversation(conversation) + [
                {"role": "assistant", "content": answer.text},
                {"role": "user", "content": feedback},
            ]
            conversation = ex.wire.with_messages(conversation, messages)
            with spans.span("llmvet reask", {"llmvet.reask.attempt": ex.reasks}) as span:
                answer = await self.ask(ex, orjson.dumps(conversation), purpose="reask")
                if answer.status == 200:
                    decision = await self.decide(ex, answer)
                    if span is not None:
                        span.set_attribute("llmvet.reask.decision", decision.action)
            if answer.status != 200:
                return await self.upstream_error(ex, answer)
        return await self.render.act(ex, answer, decision)

    async def decide(self, ex: Exchange, answer: Answer) -> Decision:
        """Vet every part of every choice (text, refusals, tool calls, reasoning); the strictest decides."""
        if answer.parts is not None:
            parts = answer.parts
        elif answer.data is not None:
            parts = ex.wire.parts(answer.data)
        else:
            parts = ex.wire.vetted_stream_parts(answer.events or [])
        started = time.perf_counter()
        if len(parts) == 1:  # the common case: one choice, text only
            decision = await evaluate(ex.rule, self.context(ex, parts[0]))
        else:
            decisions = await asyncio.gather(*(evaluate(ex.rule, self.context(ex, p)) for p in parts))
            decision = combine(list(decisions))
        ex.validate_ms += (time.perf_counter() - started) * 1000
        return decision

    async def upstream_error(self, ex: Exchange, answer: Answer) -> Response:
        """An upstream 4xx/5xx, relayed, annotated or blocked as its text decides (see `decide_error`)."""
        return self.render.upstream_error(ex, answer, await self.decide_error(ex, answer))

    async def decide_error(self, ex: Exchange, answer: Answer) -> Decision | None:
        """An upstream error's text vetted as an `error` part: the SDKs put it in the exception an app
        shows, so a hostile upstream could otherwise say there what no answer may. None: no text."""
        text = error_text(answer.raw)
        if not text.strip():
            return None
        started = time.perf_counter()
        decision = await evaluate(ex.rule, self.context(ex, Part(0, "error", "error", text)))
        ex.validate_ms += (time.perf_counter() - started) * 1000
        return decision

    def context(self, ex: Exchange, part: Part) -> Context:
        return Context(
            text=part.text,
            request=ex.body,
            route=ex.wire.route,
            model=ex.model,
            key_label=ex.key_label,
            key_hash=ex.key_hash,
            policy=ex.policy.name,
            request_id=ex.request_id,
            resources=self.rt.resources,
            reask_fn=None if ex.shadow else lambda o, messages, n: self.reask_for_validator(ex, o, messages, n),
            part=part.label,
            part_kind=part.kind,
            choice=part.choice,
        )

    async def ask(self, ex: Exchange, payload: bytes, headers: Any = None, purpose: str = "answer") -> Answer:
        """Send one request upstream and buffer the whole answer (JSON or SSE), in a span of its own."""
        headers = headers or ex.headers
        with tracing.upstream_call(headers, purpose, ex.stream and purpose != "samples") as call:
            answer = await self.buffered(ex, payload, headers)
            tracing.upstream_status(call, answer.status)
        return answer

    async def buffered(self, ex: Exchange, payload: bytes, headers: Any) -> Answer:
        started = time.perf_counter()
        upstream = self.rt.upstream
        resp = await upstream.open("POST", ex.wire.path, headers, payload, vetted=True)
        try:
            out_headers = response_headers(resp, drop_encoding=True)
            if resp.status != 200 or resp.content_type != "text/event-stream":
                raw = await upstream.read(resp)
                answer = Answer(resp.status, out_headers, raw)
                if resp.status == 200:
                    answer.data = json_object(raw)
                without_llmvet_field(answer)
                if answer.data is not None:  # read once: for the text here and for `decide`
                    answer.parts = ex.wire.parts(answer.data)
                    answer.text = first_content(answer.parts)
            else:
                parser, events = sse.SSEParser(), []
                try:
                    async for chunk in upstream.iter_chunks(resp, whole=True):
                        events.extend(parser.feed(chunk))
                except sse.StreamError as exc:
                    raise upstream_bad_response(str(exc)) from None
                if parser.pending.strip() or not ex.wire.stream_complete(events):
                    raise upstream_bad_response("the stream ended before it was complete")
                answer = Answer(200, out_headers, events=events, text=ex.wire.stream_text(events))
                without_llmvet_field(answer)
        finally:
            resp.release()
        answer.elapsed_ms = (time.perf_counter() - started) * 1000
        ex.upstream_ms += answer.elapsed_ms
        return answer

    async def reask_for_validator(
        self, ex: Exchange, overrides: dict[str, Any], messages: list[dict[str, Any]] | None, n: int
    ) -> ReaskResult:
        """Extra samples for validators (e.g. consistency); marked so llmvet never vets its own re-asks."""
        body = {**ex.body, **overrides, "stream": False}
        body.pop("stream_options", None)
        if messages is not None:
            body = ex.wire.with_messages(body, messages)
        headers = ex.headers.copy()
        headers[INTERNAL_HEADER] = self.rt.settings.internal_token
        texts: list[str] = []
        usage: dict[str, int] = {}

        async def one(count: int) -> None:
            payload = {**body, "n": count} if count > 1 else {k: v for k, v in body.items() if k != "n"}
            answer = await self.ask(ex, orjson.dumps(payload), headers, purpose="samples")
            if answer.status != 200 or answer.data is None:
                raise upstream_bad_response(f"re-ask got HTTP {answer.status}")
            texts.extend(ex.wire.texts(answer.data))
            for k, v in ex.wire.usage(answer.data).items():
                usage[k] = usage.get(k, 0) + v

        if n > 1 and ex.wire.supports_n:  # one call with `n`; top up if the upstream ignores it
            await one(n)
        if len(texts) < n:
            await asyncio.gather(*(one(1) for _ in range(n - len(texts))))
        for k, v in usage.items():
            ex.extra_usage[k] = ex.extra_usage.get(k, 0) + v
        return ReaskResult(texts[:n], usage)


def _bullets(decision: Decision) -> str:
    return "\n".join(f"- {f.message}" for f in decision.failed_findings) or f"- {decision.summary()}"
