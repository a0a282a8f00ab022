"""The ASGI app: assembles the proxy's parts, loads extensions, and owns the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib.metadata import entry_points
from typing import Any, TypeVar

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

import llmvet.proxy.tracing as tracing
from llmvet.audit import AuditLog, AuditRetention
from llmvet.config import Settings
from llmvet.extensions import ENTRY_POINT_GROUP, Extension, ReviewAccess
from llmvet.journal import open_journal
from llmvet.logs import REQUEST_ID
from llmvet.policy.loader import Policy, load_policy
from llmvet.proxy import heap
from llmvet.proxy.admin import PolicyReloader
from llmvet.proxy.answer import restore, with_text
from llmvet.proxy.client import Disconnects, read_body, request_object
from llmvet.proxy.drain import Drain, DrainMiddleware
from llmvet.proxy.errors import ProxyError
from llmvet.proxy.exchange import ClientGone, Exchange
from llmvet.proxy.front import ProxyApp
from llmvet.proxy.heartbeat import Heartbeat
from llmvet.proxy.incremental import Incremental
from llmvet.proxy.keep_text import TextKeeper
from llmvet.proxy.keepalive import first_or_keepalive
from llmvet.proxy.otlp import setup_otlp
from llmvet.proxy.passthrough import Passthrough
from llmvet.proxy.recording import audit_failure
from llmvet.proxy.render import Renderer
from llmvet.proxy.runtime import INTERNAL_HEADER, Runtime
from llmvet.proxy.shadow import attach as attach_shadow
from llmvet.proxy.shutdown import Shutdown
from llmvet.proxy.upstream import Upstream
from llmvet.proxy.vetting import Vetter
from llmvet.proxy.watch import PolicyWatch
from llmvet.proxy.wires import WIRES, Wire
from llmvet.resources import Resources
from llmvet.store import open_store
from llmvet.store.base import Store
from llmvet.validators.base import Validator

log = logging.getLogger("llmvet.proxy")
E = TypeVar("E", bound=Extension)


class LlmvetProxy:
    """One proxy per app. It is also the `Host` its extensions see (see llmvet.extensions)."""

    def __init__(self, settings: Settings, policy: Policy) -> None:
        self.settings = settings
        self.upstream = Upstream(
            settings.upstream_base,
            connect_timeout=settings.upstream_connect_timeout,
            read_timeout=settings.upstream_read_timeout,
            total_timeout=settings.upstream_total_timeout,
            max_connections=settings.upstream_max_connections,
            max_body_bytes=settings.upstream_max_body_bytes,
        )
        self.rt = Runtime(settings, policy, self.upstream)
        self.render = Renderer(self.rt)
        self.vetter = Vetter(self.rt, self.render)
        self.passthrough = Passthrough(self.rt, self.vetter)
        self.incremental = Incremental(self.rt, self.vetter, self.render)
        self.extensions: list[Extension] = []
        self.shadow = attach_shadow(self.rt, self.vetter)  # a candidate policy, never enforced
        self.reloader = PolicyReloader(self.rt, self.extensions, self.shadow)
        self.watch = PolicyWatch(self.reloader)  # reload when the files change (opt-in)
        self.heartbeat = Heartbeat(self.rt)  # the policy this replica serves, in the shared store
        self.keeper = TextKeeper(self.rt)  # a sample of answer texts for replay (off by default)
        if self.keeper.rate > 0:
            self.rt.keep_text = self.keeper.maybe_keep
        self.loop: asyncio.AbstractEventLoop | None = None
        self._warm_up: asyncio.Task[None] | None = None
        self._internal_token = settings.internal_token.encode()
        # Request ids: random per process (unique across replicas), then a counter (cheap per request).
        self._id_prefix = secrets.token_hex(6)
        self._id_counter = itertools.count(1)
        self.drain = Drain(settings.drain_timeout, self.release_held, held=lambda: self.rt.held)
        self.disconnects = Disconnects()  # cancels buffered work of clients that went away

    @property
    def policy(self) -> Policy:
        """The policy new requests start under (a reload swaps it: see proxy/admin.py)."""
        return self.rt.policy

    # ---- the Host contract ------------------------------------------------------------------------------
    @property
    def resources(self) -> Resources:
        if self.rt.resources is None:
            raise RuntimeError("the proxy has not started: resources exist only inside the app lifespan")
        return self.rt.resources

    @property
    def policy_name(self) -> str:
        return self.policy.name

    @property
    def policy_version(self) -> str:
        return self.policy.version

    @property
    def upstream_url(self) -> str:
        return self.settings.upstream_base

    def validators(self) -> list[Validator[Any]]:
        return [cv.instance for rule in self.policy.rules for cv in rule.validators]

    def key_hash(self, request: Request) -> str | None:
        return self.rt.key_identity(request)[0]

    def response_with_text(self, route: str, answer: dict[str, Any], text: str) -> dict[str, Any] | None:
        return with_text(WIRES[route], restore(answer), text).data

    def review_access(self) -> ReviewAccess | None:
        return next((a for e in self.extensions if (a := e.review_access()) is not None), None)

    def extension(self, kind: type[E]) -> E | None:
        """The loaded extension of a type (for tools and tests; extensions use the Host methods)."""
        return next((e for e in self.extensions if isinstance(e, kind)), None)

    # ---- lifespan ---------------------------------------------------------------------------------------
    def add_extension(self, ext: Extension) -> None:
        self.extensions.append(ext)
        if type(ext).on_record is not Extension.on_record:
            self.rt.record_hooks.append(ext.on_record)
        if ext.handles_escalations and self.rt.escalation is None:
            self.rt.escalation = ext

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        self.loop = asyncio.get_running_loop()  # lets tests and tools inspect the serving loop
        store = await open_store(self.settings.store)
        self.rt.resources = resources = Resources(store)
        retention = audit_retention(store, self.settings, on_removed=self.audit_dropped)
        journal = open_journal(self.settings.journal_folder, store.url, fsync=self.settings.audit_journal_fsync)
        self.rt.audit = audit = AuditLog(store, retention=retention, journal=journal)
        audit.start()
        self.heartbeat.start()
        await self.upstream.start()
        for ext in self.extensions:
            await ext.start()
        # Validators with expensive state (an embedding model) load it now, beside serving, not on
        # the first answer; /readyz says "warming" until they are done.
        self._warm_up = asyncio.create_task(self.warm_up_validators(resources), name="llmvet-warm-up")
        self.reloader.listen(self.loop)  # SIGHUP reloads the policy
        self.watch.start()
        log.info(
            "llmvet ready: upstream %s, policy %s@%s, store %s",
            self.upstream.display_url,
            self.policy.name,
            self.policy.version,
            store.url.split("@")[-1],
        )
        self.drain.install()
        try:
            yield
        finally:
            self.reloader.close(self.loop)
            self._warm_up.cancel()
            self.drain.uninstall()
            done = Shutdown()  # every step bounded (proxy/shutdown.py)
            await done.step("the policy watch", self.watch.stop, 1)
            await done.step("the heartbeat", self.heartbeat.stop, 1)
            for ext in reversed(self.extensions):
                await done.step(f"extension {type(ext).__name__}", ext.stop, 2)
            await done.step("passthrough stream audits", self.passthrough.close, 5)
            await done.step("shadow checks", self.shadow.close, 1)
            await done.step("kept answer texts", self.keeper.close, 2)
            await done.step("the upstream client", self.upstream.close, 2)
            await done.step("the audit log", audit.close, 8)
            await done.step("the store", resources.close, 2)

    def audit_dropped(self, count: int) -> None:
        """Audit retention deleted records: extensions count them (the observe metric)."""
        for ext in self.extensions:
            try:
                ext.on_audit_dropped(count)
            except Exception:
                log.exception("%s.on_audit_dropped failed", type(ext).__name__)

    async def release_held(self) -> None:
        """Draining, with only held requests left (or out of time): every extension answers what it holds."""
        for ext in self.extensions:
            await ext.release_held()

    async def warm_up_validators(self, resources: Resources) -> None:
        for rule in self.policy.rules:
            for cv in rule.validators:
                warm_up = getattr(cv.instance, "warm_up", None)
                if warm_up is None or getattr(warm_up, "__func__", None) is Validator.warm_up:
                    continue  # nothing to load
                started = time.perf_counter()
                try:
                    await warm_up(resources)
                except Exception as exc:  # it will error per answer instead; on_error decides then
                    log.warning("validator %s (rule %s) failed to warm up: %s", cv.label, rule.name, exc)
                else:
                    log.info(
                        "validator %s (rule %s) warmed up in %.1fs", cv.label, rule.name, time.perf_counter() - started
                    )
        heap.freeze_after_startup()  # what start-up made stays: full collections no longer walk it

    # ---- health -----------------------------------------------------------------------------------------
    async def healthz(self, request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    async def readyz(self, request: Request) -> Response:
        checks: dict[str, Any] = {"policy": f"{self.policy.name}@{self.policy.version}"}
        try:
            up = self.rt.resources is not None and await self.rt.resources.store.writable()
            checks["store"] = "ok" if up else "down"
        except Exception as exc:
            checks["store"] = f"down: {type(exc).__name__}"
        warming = self._warm_up is not None and not self._warm_up.done()
        checks["validators"] = "warming" if warming else "ok"
        ok = checks["store"] == "ok" and not warming and not self.drain.draining
        checks["upstream"] = self.upstream.display_url
        if (shadow := self.shadow.status()) is not None:
            checks["shadow"] = shadow
        with contextlib.suppress(Exception):  # the store's state is reported above
            checks.update(await self.heartbeat.replicas())
        return Response(
            orjson.dumps({"status": "draining" if self.drain.draining else "ready" if ok else "not ready", **checks}),
            200 if ok else 503,
            media_type="application/json",
        )

    # ---- vetted routes ----------------------------------------------------------------------------------
    def vetted_route(self, route: str) -> Callable[[Request], Awaitable[Response]]:
        wire = WIRES[route]

        async def endpoint(request: Request) -> Response:
            request_id = f"req_{self._id_prefix}{next(self._id_counter):08x}"
            REQUEST_ID.set(request_id)  # for this request's log lines (and uvicorn's access line)
            span = tracing.start_request(request.headers, wire.route, request_id)
            if span is None:  # tracing off: the plain path
                return await self.answer_vetted(request, wire, request_id)
            try:
                with tracing.current(span):
                    response = await self.answer_vetted(request, wire, request_id)
            except BaseException as exc:
                tracing.abandon(span, exc)
                raise
            return tracing.finish(span, response)

        return endpoint

    async def answer_vetted(self, request: Request, wire: Wire, request_id: str) -> Response:
        """The response to a vetted request, errors included."""
        try:
            return await self.handle_vetted(request, wire, request_id)
        except ProxyError as exc:
            return exc.response({"x-llmvet-request-id": request_id})
        except ClientGone:
            log.info("client disconnected (request %s); upstream work cancelled", request_id)
            return Response(status_code=499)

    async def handle_vetted(self, request: Request, wire: Wire, request_id: str) -> Response:
        self.rt.check_headers(request)
        raw = await read_body(request, self.settings.max_body_bytes)
        body = request_object(raw)
        key_hash, key_label = self.rt.key_identity(request)
        given = request.headers.get(INTERNAL_HEADER)
        internal = given is not None and hmac.compare_digest(given.encode(), self._internal_token)
        policy = self.rt.policy  # this request's policy to the end, even if a reload swaps the serving one
        rule = None if internal else policy.select(key_label, body["model"], wire.route)
        headers = self.rt.upstream_headers(request, key_hash)
        tracing.inject_context(headers)

        if rule is None or not rule.validators:
            return await self.passthrough.forward(
                "POST", wire.path, headers, raw, extra={"x-llmvet-request-id": request_id}, openai_route=True
            )
        sent = body
        for cv in rule.validators:  # request-side rules (e.g. ask for an uncertainty statement)
            sent = cv.instance.prepare_request(sent, wire.route)
        ex = Exchange(
            request_id,
            wire,
            rule,
            sent,
            headers,
            body.get("stream") is True,
            key_label,
            key_hash[:12] if key_hash else None,
            policy,
            hashlib.sha256(raw).hexdigest(),
            payload=raw if sent is body else orjson.dumps(sent),
        )  # unchanged: send the client's bytes
        mode = rule.rule.stream_mode() if ex.stream else "buffer"
        if mode == "passthrough":
            return await audit_failure(self.rt, ex, self.passthrough.stream_then_vet(ex))
        if not ex.stream:
            return await self.disconnects.until_disconnected(request, audit_failure(self.rt, ex, self.vetter.vet(ex)))
        # Keep the client alive while the first byte is awaited (the upstream, a lookup, a reviewer).
        work = audit_failure(self.rt, ex, self.incremental.stream(ex) if mode == "incremental" else self.vetter.vet(ex))
        early = {"x-llmvet-request-id": ex.request_id, "x-llmvet-decision": "pending", **ex.policy_headers}
        wait = first_or_keepalive(work, rule.rule.stream.keepalive, self.stopped_event(ex), early)
        return await self.disconnects.until_disconnected(request, wait)

    def stopped_event(self, ex: Exchange) -> Callable[[dict[str, Any]], bytes]:
        """For a stream that already sent keep-alives: an error body as the events that end it."""

        def stop(body: dict[str, Any]) -> bytes:
            note = {**(body.get("llmvet") or {}), "decision": "block", "error": body.get("error")}
            return ex.wire.encode(ex.wire.stream_stop([], note))

        return stop


def audit_retention(
    store: Store, settings: Settings, on_removed: Callable[[int], None] | None = None
) -> AuditRetention:
    return AuditRetention(
        store,
        keep_seconds=settings.audit_keep_days * 86400,
        max_records=settings.audit_max_records,
        every=settings.audit_retention_interval,
        on_removed=on_removed,
    )


def load_extensions(proxy: LlmvetProxy) -> None:
    """Every extension registered under the entry-point group, in `order`; a missing part is skipped."""
    found: list[type[Extension]] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            found.append(ep.load())
        except ModuleNotFoundError as exc:  # that part of llmvet (or its optional dependency) is not installed
            log.warning("extension %s not loaded: %s", ep.name, exc)
    for kind in sorted(found, key=lambda k: (k.order, k.__module__, k.__qualname__)):
        proxy.add_extension(kind(proxy))


def create_app(settings: Settings, policy: Policy | None = None) -> Starlette:
    """Build the proxy app; `policy` defaults to loading `settings.policy` (errors raise PolicyError)."""
    if not settings.upstream:
        raise ValueError("no upstream configured: pass --upstream URL or set LLMVET_UPSTREAM")
    proxy = LlmvetProxy(settings, policy or load_policy(settings.policy))
    load_extensions(proxy)
    vetted = [
        Route("/v1/chat/completions", proxy.vetted_route("chat.completions"), methods=["POST"]),
        Route("/v1/completions", proxy.vetted_route("completions"), methods=["POST"]),
        Route("/v1/responses", proxy.vetted_route("responses"), methods=["POST"]),
    ]
    routes: list[BaseRoute] = [
        # The vetted routes first (ProxyApp serves them directly; these entries are for anything its
        # path lookup misses, e.g. a root path). Extension routes live under their own prefixes.
        *vetted,
        Route("/healthz", proxy.healthz, methods=["GET"]),
        Route("/readyz", proxy.readyz, methods=["GET"]),
        *proxy.reloader.routes,
        *(r for ext in proxy.extensions for r in ext.routes),
        # everything else under /v1 goes through byte for byte
        Route("/v1/{path:path}", proxy.passthrough.route, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]),
    ]
    middleware = [Middleware(DrainMiddleware, drain=proxy.drain), *(m for e in proxy.extensions for m in e.middleware)]
    app = ProxyApp(vetted=vetted, drain=proxy.drain, routes=routes, middleware=middleware, lifespan=proxy.lifespan)
    app.state.proxy = proxy
    return app


def app_from_env() -> Starlette:
    """Factory for `llmvet serve --workers N`: each worker reads its settings from LLMVET_* variables
    (and its OTLP exporter's from OTEL_* ones)."""
    setup_otlp()
    heap.FREEZE = True  # only `llmvet serve --workers N` builds its app here
    return create_app(Settings())
