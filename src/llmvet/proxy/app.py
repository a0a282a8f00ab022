"""The ASGI app: OpenAI-compatible routes in front of the upstream, vetting answers per the policy."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import importlib
import itertools
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from llmvet.config import Settings
from llmvet.observe.audit import AuditLog
from llmvet.policy.engine import Decision, combine, evaluate
from llmvet.policy.loader import CompiledRule, Policy, load_policy
from llmvet.proxy import sse
from llmvet.proxy.errors import ProxyError, bad_request, body_too_large, error_response, upstream_bad_response
from llmvet.proxy.upstream import Upstream, forward_request_headers, response_headers
from llmvet.proxy.wire import WIRES, Wire
from llmvet.resources import Resources
from llmvet.store import open_store
from llmvet.validators.base import Context, ReaskResult, Validator

log = logging.getLogger("llmvet.proxy")

INTERNAL_HEADER = "x-llmvet-internal"


@dataclass(slots=True)
class Answer:
    """One upstream answer, buffered: the raw bytes plus what llmvet parsed out of them."""

    status: int
    headers: dict[str, str]
    raw: bytes = b""
    data: dict[str, Any] | None = None  # non-streaming JSON body
    events: list[sse.Event] | None = None  # streaming: every SSE event, raw bytes kept
    text: str = ""
    elapsed_ms: float = 0.0


@dataclass
class Exchange:
    """Everything known about one vetted request while it is being handled."""

    request_id: str
    wire: Wire
    rule: CompiledRule
    body: dict[str, Any]
    headers: Any
    stream: bool
    key_label: str | None
    key_hash: str | None
    body_sha256: str = ""
    payload: bytes = b""  # the request body as sent upstream
    started: float = field(default_factory=time.perf_counter)
    upstream_ms: float = 0.0
    validate_ms: float = 0.0
    reasks: int = 0
    extra_usage: dict[str, int] = field(default_factory=dict)


class ClientGone(Exception):
    pass


# An escalation handler (the review queue) turns an escalated exchange into the client's response.
EscalationHandler = Callable[["LlmvetProxy", Exchange, Answer, Decision], Awaitable[Response]]


class Extension:
    """A part of llmvet that plugs into the app (review queue, metrics): routes, middleware, lifecycle.

    Extensions are listed in EXTENSIONS and loaded by `create_app`; one missing from the install is skipped.
    """

    routes: list[Any] = []
    middleware: list[Any] = []  # starlette.middleware.Middleware entries, outermost first

    def __init__(self, proxy: LlmvetProxy) -> None:
        self.proxy = proxy

    async def start(self) -> None:
        """Called in the lifespan after the store and upstream client are ready."""

    async def stop(self) -> None:
        """Called in the lifespan before the store closes."""


EXTENSIONS = ["llmvet.review.extension:ReviewExtension", "llmvet.observe.extension:ObserveExtension"]


class LlmvetProxy:
    def __init__(self, settings: Settings, policy: Policy) -> None:
        self.settings = settings
        self.policy = policy
        self.upstream = Upstream(
            settings.upstream_base,
            connect_timeout=settings.upstream_connect_timeout,
            read_timeout=settings.upstream_read_timeout,
            max_connections=settings.upstream_max_connections,
        )
        self.resources: Resources | None = None
        self.audit: AuditLog | None = None
        self.escalation: EscalationHandler | None = None
        self.extensions: list[Extension] = []
        self._warm_up: asyncio.Task[None] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        # Called with every audit record (vetted responses), e.g. for metrics and drift.
        self.finish_hooks: list[Callable[[dict[str, Any]], None]] = []
        self._internal_token = settings.internal_token.encode()
        # Request ids: random per process (unique across replicas), then a counter (cheap per request).
        self._id_prefix = secrets.token_hex(6)
        self._id_counter = itertools.count(1)
        self._policy_headers = {"x-llmvet-policy": f"{policy.name}@{policy.version}"}

    # ---- lifespan -------------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        self.loop = asyncio.get_running_loop()  # lets tests and tools inspect the serving loop
        store = await open_store(self.settings.store)
        self.resources = Resources(store)
        self.audit = AuditLog(store)
        self.audit.start()
        await self.upstream.start()
        for ext in self.extensions:
            await ext.start()
        # Validators with expensive state (an embedding model) load it now, beside serving, not on
        # the first answer; /readyz says "warming" until they are done.
        self._warm_up = asyncio.create_task(self.warm_up_validators(), name="llmvet-warm-up")
        log.info("llmvet ready: upstream %s, policy %s@%s, store %s",
                 self.upstream.display_url, self.policy.name, self.policy.version, store.url.split("@")[-1])
        try:
            yield
        finally:
            self._warm_up.cancel()
            for ext in reversed(self.extensions):
                with contextlib.suppress(Exception):
                    await ext.stop()
            await self.upstream.close()
            await self.audit.close()
            await self.resources.close()

    async def warm_up_validators(self) -> None:
        for rule in self.policy.rules:
            for cv in rule.validators:
                warm_up = getattr(cv.instance, "warm_up", None)
                if warm_up is None or getattr(warm_up, "__func__", None) is Validator.warm_up:
                    continue  # nothing to load
                started = time.perf_counter()
                try:
                    await warm_up(self.resources)
                except Exception as exc:  # it will error per answer instead; on_error decides then
                    log.warning("validator %s (rule %s) failed to warm up: %s", cv.label, rule.name, exc)
                else:
                    log.info("validator %s (rule %s) warmed up in %.1fs", cv.label, rule.name,
                             time.perf_counter() - started)

    # ---- small helpers --------------------------------------------------------------------------
    def key_identity(self, request: Request) -> tuple[str | None, str | None]:
        """(sha256 of the client's API key, the policy's label for it). The key itself is never kept."""
        auth = request.headers.get("authorization")
        if not auth:
            return None, None
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else auth.strip()
        digest = hashlib.sha256(token.encode()).hexdigest()
        entry = self.policy.key_entry(digest)
        return digest, entry.label if entry else None

    async def read_body(self, request: Request) -> bytes:
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise body_too_large(limit)
        chunks, size = [], 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise body_too_large(limit)
                chunks.append(chunk)
        except ClientDisconnect:
            raise ClientGone() from None
        return b"".join(chunks)

    def upstream_headers(self, request: Request, key_hash: str | None, *, vetted: bool = True) -> Any:
        """Headers to send upstream; the policy may swap the client's key for an upstream key."""
        headers = forward_request_headers(request.headers, vetted=vetted)
        entry = self.policy.key_entry(key_hash)
        if entry is not None and entry.upstream_key_env:
            headers["Authorization"] = f"Bearer {os.environ[entry.upstream_key_env]}"
        return headers

    # ---- routes -----------------------------------------------------------------------------------
    async def healthz(self, request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    async def readyz(self, request: Request) -> Response:
        checks: dict[str, Any] = {"policy": f"{self.policy.name}@{self.policy.version}"}
        try:
            checks["store"] = "ok" if self.resources and await self.resources.store.ping() else "down"
        except Exception as exc:
            checks["store"] = f"down: {type(exc).__name__}"
        warming = self._warm_up is not None and not self._warm_up.done()
        checks["validators"] = "warming" if warming else "ok"
        ok = checks["store"] == "ok" and not warming
        checks["upstream"] = self.upstream.display_url
        return Response(orjson.dumps({"status": "ready" if ok else "not ready", **checks}), 200 if ok else 503,
                        media_type="application/json")

    def vetted_route(self, route: str) -> Callable[[Request], Awaitable[Response]]:
        wire = WIRES[route]

        async def endpoint(request: Request) -> Response:
            request_id = f"req_{self._id_prefix}{next(self._id_counter):08x}"
            try:
                return await self.handle_vetted(request, wire, request_id)
            except ProxyError as exc:
                return exc.response({"x-llmvet-request-id": request_id})
            except ClientGone:
                log.info("client disconnected (request %s); upstream work cancelled", request_id)
                return Response(status_code=499)

        return endpoint

    async def handle_vetted(self, request: Request, wire: Wire, request_id: str) -> Response:
        raw = await self.read_body(request)
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise bad_request(f"request body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise bad_request("request body must be a JSON object")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise bad_request("you must provide a model parameter", param="model", code="missing_required_parameter")

        key_hash, key_label = self.key_identity(request)
        given = request.headers.get(INTERNAL_HEADER)
        internal = given is not None and hmac.compare_digest(given.encode(), self._internal_token)
        rule = None if internal else self.policy.select(key_label, model, wire.route)
        headers = self.upstream_headers(request, key_hash)
        stream = body.get("stream") is True

        if rule is None or not rule.validators:
            return await self.forward(request, "POST", wire.path, headers, raw, extra={"x-llmvet-request-id": request_id})

        sent = body
        for cv in rule.validators:  # request-side rules (e.g. ask for an uncertainty statement)
            sent = cv.instance.prepare_request(sent, wire.route)
        ex = Exchange(request_id, wire, rule, sent, headers, stream, key_label, key_hash[:12] if key_hash else None,
                      hashlib.sha256(raw).hexdigest(),
                      payload=raw if sent is body else orjson.dumps(sent))  # unchanged: send the client's bytes
        if stream and rule.rule.stream.mode == "passthrough":
            return await self.stream_then_vet(request, ex)
        return await self.until_disconnected(request, self.vet(ex))

    async def until_disconnected(self, request: Request, work: Awaitable[Response]) -> Response:
        """Run `work`; if the client goes away first, cancel it (and with it the upstream request)."""
        me = asyncio.current_task()
        assert me is not None
        gone = False

        async def watch() -> None:
            nonlocal gone
            await _disconnected(request)
            gone = True
            me.cancel()

        watcher = asyncio.ensure_future(watch())  # one extra task per request, not two
        try:
            return await work
        except asyncio.CancelledError:
            if gone:
                me.uncancel()
                raise ClientGone() from None
            raise
        finally:
            watcher.cancel()

    # ---- the vetting loop ---------------------------------------------------------------------------
    async def vet(self, ex: Exchange) -> Response:
        answer = await self.ask(ex, ex.payload)
        if answer.status != 200:
            return self.upstream_error(ex, answer)
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
            answer = await self.ask(ex, orjson.dumps(conversation))
            if answer.status != 200:
                return self.upstream_error(ex, answer)
            decision = await self.decide(ex, answer)
        return await self.act(ex, answer, decision)

    async def decide(self, ex: Exchange, answer: Answer) -> Decision:
        """Vet the answer; with several choices (`n`), vet each and let the strictest decide."""
        texts = ex.wire.texts(answer.data) if answer.data is not None else [answer.text]
        started = time.perf_counter()
        if len(texts) <= 1:
            decision = await evaluate(ex.rule, self.context(ex, answer.text))
        else:
            decisions = await asyncio.gather(*(evaluate(ex.rule, self.context(ex, t)) for t in texts))
            decision = combine(decisions)
        ex.validate_ms += (time.perf_counter() - started) * 1000
        return decision

    def context(self, ex: Exchange, text: str) -> Context:
        return Context(
            text=text,
            request=ex.body,
            route=ex.wire.route,
            model=ex.body.get("model", ""),
            key_label=ex.key_label,
            key_hash=ex.key_hash,
            policy=self.policy.name,
            request_id=ex.request_id,
            resources=self.resources,
            reask_fn=lambda overrides, messages, n: self.reask_for_validator(ex, overrides, messages, n),
        )

    async def ask(self, ex: Exchange, payload: bytes, headers: Any = None) -> Answer:
        """Send one request upstream and buffer the whole answer (JSON or SSE)."""
        started = time.perf_counter()
        resp = await self.upstream.open("POST", ex.wire.path, headers or ex.headers, payload)
        try:
            out_headers = response_headers(resp, drop_encoding=True)
            is_sse = resp.content_type == "text/event-stream"
            if resp.status != 200 or not is_sse:
                raw = await self.upstream.read(resp)
                answer = Answer(resp.status, out_headers, raw)
                if resp.status == 200:
                    answer.data = _json_object(raw)
                    answer.text = ex.wire.text(answer.data)
            else:
                parser, events = sse.SSEParser(), []
                try:
                    async for chunk in self.upstream.iter_chunks(resp):
                        events.extend(parser.feed(chunk))
                except sse.StreamError as exc:
                    raise upstream_bad_response(str(exc)) from None
                if parser.pending.strip() or not ex.wire.stream_complete(events):
                    raise upstream_bad_response("the stream ended before it was complete")
                answer = Answer(200, out_headers, events=events, text=ex.wire.stream_text(events))
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
        headers[INTERNAL_HEADER] = self.settings.internal_token
        texts: list[str] = []
        usage: dict[str, int] = {}

        async def one(count: int) -> None:
            payload = {**body, "n": count} if count > 1 else {k: v for k, v in body.items() if k != "n"}
            answer = await self.ask(ex, orjson.dumps(payload), headers)
            if answer.status != 200 or answer.data is None:
                raise upstream_bad_response(f"re-ask got HTTP {answer.status}")
            texts.extend(ex.wire.texts(answer.data))
            for k, v in ex.wire.usage(answer.data).items():
                usage[k] = usage.get(k, 0) + v

        if n > 1 and ex.wire.route != "responses":  # one call with `n`; top up if the upstream ignores it
            await one(n)
        if len(texts) < n:
            await asyncio.gather(*(one(1) for _ in range(n - len(texts))))
        for k, v in usage.items():
            ex.extra_usage[k] = ex.extra_usage.get(k, 0) + v
        return ReaskResult(texts[:n], usage)

    # ---- turning a decision into the client's response -----------------------------------------------
    async def act(self, ex: Exchange, answer: Answer, decision: Decision) -> Response:
        action = decision.action
        headers = {**answer.headers, **self.decision_headers(ex, decision)}
        if action == "escalate":
            if self.escalation is not None:
                response = await self.escalation(self, ex, answer, decision)
                self.finish(ex, answer, decision, response.status_code)
                return response
            return self.block(ex, answer, decision, "escalated for human review, but no review queue is configured")
        if action == "block":
            return self.block(ex, answer, decision)
        if action == "allow" and ex.reasks == 0:
            response = self.replay(ex, answer, headers)
        else:
            notice = ex.rule.rule.append.text if action == "append" else None
            response = self.rewrite(ex, answer, headers, self.annotation(ex, decision), notice)
        self.finish(ex, answer, decision, response.status_code)
        return response

    def block(self, ex: Exchange, answer: Answer, decision: Decision, why: str | None = None) -> Response:
        settings = ex.rule.rule.block
        message = f"{settings.message} (rule {ex.rule.name!r}): {why or decision.summary()}"
        headers = self.decision_headers(ex, decision)
        headers["x-llmvet-decision"] = "block"
        response = error_response(
            settings.status, message, "llmvet_policy_violation", "blocked_by_policy", None, headers,
            extra={"llmvet": self.annotation(ex, decision) | {"decision": "block"}},
        )
        self.finish(ex, answer, decision, response.status_code, final_action="block")
        return response

    def decision_headers(self, ex: Exchange, decision: Decision) -> dict[str, str]:
        headers = {
            "x-llmvet-request-id": ex.request_id,
            "x-llmvet-decision": decision.action,
            "x-llmvet-rule": ex.rule.name,
            **self._policy_headers,
        }
        if ex.reasks:
            headers["x-llmvet-reasks"] = str(ex.reasks)
        headers.update(decision.headers)
        return headers

    def annotation(self, ex: Exchange, decision: Decision) -> dict[str, Any]:
        out = decision.to_dict()
        out["request_id"] = ex.request_id
        out["policy"] = {"name": self.policy.name, "version": self.policy.version}
        if ex.reasks:
            out["reasks"] = ex.reasks
        return out

    def replay(self, ex: Exchange, answer: Answer, headers: dict[str, str]) -> Response:
        """The upstream's answer exactly as it came (the common, fast path)."""
        if answer.events is None:
            return Response(answer.raw, 200, headers=headers, media_type="application/json")
        return _sse_response([e.raw for e in answer.events], headers)

    def rewrite(
        self, ex: Exchange, answer: Answer, headers: dict[str, str], note: dict[str, Any], notice: str | None
    ) -> Response:
        """The answer with an `llmvet` field added (and, for `append`, the notice added to its text)."""
        if answer.events is None:
            data = dict(answer.data or {})
            if notice:
                data = ex.wire.append(data, notice)
            data["llmvet"] = note
            return Response(orjson.dumps(data), 200, headers=headers, media_type="application/json")
        payloads = ex.wire.stream_append(answer.events, notice) if notice else [e.data for e in answer.events]
        last = max((i for i, p in enumerate(payloads) if isinstance(p, dict)), default=None)
        chunks = []
        for i, p in enumerate(payloads):
            if p is None:
                continue
            if i == last:
                p = {**p, "llmvet": note}
            event_name = p.get("type") if isinstance(p, dict) and ex.wire.route == "responses" else None
            chunks.append(sse.encode(p, event_name))
        return _sse_response(chunks, headers)

    def upstream_error(self, ex: Exchange, answer: Answer) -> Response:
        """Upstream 4xx/5xx: the client gets the upstream's own status and body."""
        headers = {**answer.headers, "x-llmvet-request-id": ex.request_id}
        self.finish(ex, answer, None, answer.status)
        return Response(answer.raw, answer.status, headers=headers)

    def finish(self, ex: Exchange, answer: Answer, decision: Decision | None, status: int,
               final_action: str | None = None) -> None:
        """Bookkeeping once the response is decided: the audit record, then the finish hooks."""
        if self.audit is None or not (self.settings.audit or self.finish_hooks):
            return
        total_ms = (time.perf_counter() - ex.started) * 1000
        record = {
            "ts": time.time(),
            "request_id": ex.request_id,
            "route": ex.wire.route,
            "model": ex.body.get("model"),
            "key": ex.key_hash,
            "key_label": ex.key_label,
            "policy": self.policy.name,
            "policy_version": self.policy.version,
            "rule": ex.rule.name,
            "stream": ex.stream,
            "status": status,
            "action": final_action or (decision.action if decision else "upstream_error"),
            "policy_action": decision.action if decision else None,
            "validators": [_with_meta(r) for r in decision.runs] if decision else [],
            "findings": [f.to_dict() for f in decision.findings] if decision else [],
            "reasks": ex.reasks,
            "extra_usage": ex.extra_usage,
            "timings_ms": {
                "total": round(total_ms, 2), "upstream": round(ex.upstream_ms, 2), "validate": round(ex.validate_ms, 2),
            },
            "request_sha256": ex.body_sha256,
            "response_sha256": hashlib.sha256(answer.text.encode()).hexdigest(),
            "upstream": self.upstream.display_url,
            "upstream_model": _answered_model(answer),  # provenance: the model that actually answered
            "response_chars": len(answer.text),  # answer length, for drift of the length mix
        }
        if self.settings.audit:
            self.audit.record(record)
        for hook in self.finish_hooks:
            try:
                hook(record)
            except Exception:
                log.exception("finish hook failed (request %s)", ex.request_id)

    # ---- streaming without buffering (opt-in per rule) -------------------------------------------------
    async def stream_then_vet(self, request: Request, ex: Exchange) -> Response:
        """`stream.mode: passthrough`: bytes flow as they arrive; the verdict is only audited afterwards."""
        resp = await self.upstream.open("POST", ex.wire.path, ex.headers, ex.payload)
        headers = {**response_headers(resp, drop_encoding=True), "x-llmvet-request-id": ex.request_id}
        if resp.status != 200:
            return Response(await self.upstream.read_and_release(resp), resp.status, headers=headers)

        async def relay() -> AsyncIterator[bytes]:
            parser, events = sse.SSEParser(), []
            try:
                async for chunk in self.upstream.iter_chunks(resp):
                    with contextlib.suppress(sse.StreamError):
                        events.extend(parser.feed(chunk))
                    yield chunk
            finally:
                resp.close()
            answer = Answer(200, headers, events=events, text=ex.wire.stream_text(events))
            decision = await self.decide(ex, answer)
            self.finish(ex, answer, decision, 200, final_action="allow")  # already sent; policy_action says what it would be

        return StreamingResponse(relay(), 200, headers=headers, media_type="text/event-stream")

    # ---- everything else under /v1: byte-for-byte -------------------------------------------------------
    async def passthrough(self, request: Request) -> Response:
        path = "/" + request.path_params["path"]
        if request.url.query:
            path += "?" + request.url.query
        key_hash, _ = self.key_identity(request)
        headers = self.upstream_headers(request, key_hash, vetted=False)
        length = request.headers.get("content-length")
        if length:
            headers["Content-Length"] = length
        body = request.stream() if request.method not in ("GET", "HEAD") else None
        try:
            return await self.forward(request, request.method, path, headers, body)
        except ProxyError as exc:
            return exc.response()

    async def forward(
        self, request: Request, method: str, path: str, headers: Any, body: Any, extra: dict[str, str] | None = None
    ) -> Response:
        resp = await self.upstream.open(method, path, headers, body)
        out_headers = response_headers(resp, drop_encoding=False)
        if extra:
            out_headers.update(extra)
        length = resp.headers.get("content-length")
        if length is not None and int(length) < 1 << 20:  # small bodies: one read, no chunked framing
            return Response(await self.upstream.read_and_release(resp), resp.status, headers=out_headers)

        async def relay() -> AsyncIterator[bytes]:
            try:
                async for chunk in self.upstream.iter_chunks(resp):
                    yield chunk
            finally:
                resp.close()  # on client disconnect this cancels the upstream request too

        return StreamingResponse(relay(), resp.status, headers=out_headers)


async def _disconnected(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


def _with_meta(run: Any) -> dict[str, Any]:
    """A validator run for the audit record, with the validator's own extras (usage, scores, skips)."""
    d = run.to_dict()
    if run.verdict.meta:
        # default=str: a validator's odd value must not poison the audit batch it is written in
        d["meta"] = orjson.loads(orjson.dumps(run.verdict.meta, default=str, option=orjson.OPT_NON_STR_KEYS))
    return d


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise upstream_bad_response("the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise upstream_bad_response("the body is not a JSON object")
    return data


def _answered_model(answer: Answer) -> str | None:
    """The `model` the upstream reported (JSON body, or the first stream event naming one)."""
    if answer.data is not None:
        return answer.data.get("model")
    for e in answer.events or ():
        if isinstance(e.data, dict):
            model = e.data.get("model") or (e.data.get("response") or {}).get("model")
            if model:
                return model
    return None


def _bullets(decision: Decision) -> str:
    return "\n".join(f"- {f.message}" for f in decision.failed_findings) or f"- {decision.summary()}"


def _sse_response(chunks: list[bytes], headers: dict[str, str]) -> Response:
    async def gen() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    return StreamingResponse(gen(), 200, headers=headers, media_type="text/event-stream")


def create_app(settings: Settings, policy: Policy | None = None) -> Starlette:
    """Build the proxy app; `policy` defaults to loading `settings.policy` (errors raise PolicyError)."""
    if not settings.upstream:
        raise ValueError("no upstream configured: pass --upstream URL or set LLMVET_UPSTREAM")
    proxy = LlmvetProxy(settings, policy or load_policy(settings.policy))
    routes = [
        Route("/healthz", proxy.healthz, methods=["GET"]),
        Route("/readyz", proxy.readyz, methods=["GET"]),
        Route("/v1/chat/completions", proxy.vetted_route("chat.completions"), methods=["POST"]),
        Route("/v1/completions", proxy.vetted_route("completions"), methods=["POST"]),
        Route("/v1/responses", proxy.vetted_route("responses"), methods=["POST"]),
        Route("/v1/{path:path}", proxy.passthrough, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]),
    ]
    middleware: list[Any] = []
    for spec in EXTENSIONS:
        module_name, _, attr = spec.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue  # that part of llmvet is not in this install
            raise
        ext = getattr(module, attr)(proxy)
        proxy.extensions.append(ext)
        routes[2:2] = ext.routes  # before the /v1 catch-all
        middleware.extend(ext.middleware)
    app = Starlette(routes=routes, middleware=middleware, lifespan=proxy.lifespan)
    app.state.proxy = proxy
    return app


def app_from_env() -> Starlette:
    """Factory for `llmvet serve --workers N`: each worker reads its settings from LLMVET_* variables."""
    return create_app(Settings())
