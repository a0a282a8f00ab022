"""Observability plugged into the proxy: /metrics, provenance headers, drift, budgets, the dashboard.

Switches (environment): LLMVET_METRICS=0 turns Prometheus metrics off, LLMVET_DRIFT=0 turns the
outcome buckets (drift, report, dashboard data) off, LLMVET_PROVENANCE=0 drops the extra provenance
headers. Drift settings: LLMVET_DRIFT_* (see drift.DriftConfig).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import time
from typing import Any, ClassVar
from urllib.parse import urlparse

from pydantic import ValidationError
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from llmvet.audit import RepeatedErrors
from llmvet.extensions import Extension, Host
from llmvet.observe import drift as drift_mod
from llmvet.observe.metrics import Metrics
from llmvet.observe.report import read_counter
from llmvet.observe.rollup import Rollup, split_group
from llmvet.records import AuditRecord
from llmvet.store import keys, serving
from llmvet.store.base import Store
from llmvet.validators.base import Validator

log = logging.getLogger("llmvet.observe")

# One dict per HTTP request, shared with the tasks the request spawns: the finish hook puts the
# audit record here, the middleware reads it back for the provenance headers and the model label.
_SLOT: contextvars.ContextVar[dict[str, AuditRecord] | None] = contextvars.ContextVar(
    "llmvet_observe_slot", default=None
)

REVIEW_COUNT_WINDOW = 7 * 86400  # review decisions older than this are not counted into the latency metric
REVIEW_BATCH = 1000  # decisions read per refresh (more wait for the next one)


def _flag(name: str, default: bool = True) -> bool:
    v = os.environ.get(name)
    if v is None or v.strip() == "":
        return default
    return v.strip().lower() not in ("0", "false", "no", "off")


class ObserveExtension(Extension):
    """The observe part of the proxy: see the module docstring."""

    order: ClassVar[int] = 50  # outermost middleware: it times and counts every request

    def __init__(self, host: Host) -> None:
        super().__init__(host)
        self.metrics_on = _flag("LLMVET_METRICS")
        self.drift_on = _flag("LLMVET_DRIFT")
        self.provenance_on = _flag("LLMVET_PROVENANCE")
        self.metrics = Metrics() if self.metrics_on else None
        self.cfg = drift_config()
        self.rollup: Rollup | None = None
        self.detector: drift_mod.DriftDetector | None = None
        self.flush_interval = 1.0
        self._task: asyncio.Task[None] | None = None
        self._errors = RepeatedErrors(log, "observe background task")  # runs every second
        self._keys_seen: dict[str, str] = {}  # budget key hash -> label shown in metrics
        self._reviews_since: float | None = None  # decisions up to this time have been looked at
        self._reviews_seen: set[str] = set()  # ids decided at exactly that time (looked at already)
        upstream = urlparse(host.upstream_url)
        self._upstream_header = (
            b"x-llmvet-upstream",
            f"{upstream.hostname}{':' + str(upstream.port) if upstream.port else ''}".encode(),
        )
        if self.metrics is not None:
            self.routes.append(Route("/metrics", self.metrics_endpoint, methods=["GET"]))
        self.routes += [
            Route("/review/dashboard", self.dashboard, methods=["GET"]),
            Route("/review/dashboard.json", self.dashboard_json, methods=["GET"]),
        ]
        self.middleware = [Middleware(ObserveMiddleware, ext=self)]

    @property
    def store(self) -> Store:
        return self.host.resources.store

    # ---- lifecycle ------------------------------------------------------------------------------------
    async def start(self) -> None:
        store = self.store
        if self.metrics is not None:
            self.metrics.serving_policy(self.host.policy_name, self.host.policy_version)
        if self.drift_on:
            retention = max(
                26 * 3600, (self.cfg.window_buckets + self.cfg.baseline_buckets + 2) * self.cfg.bucket_seconds
            )
            self.rollup = Rollup(store, bucket_seconds=self.cfg.bucket_seconds, retention_seconds=retention)
            sinks: list[drift_mod.AlertSink] = []
            if self.metrics is not None:
                sinks.append(self.metrics.drift_alert)
            if self.cfg.webhook:
                sinks.append(self.post_webhook)
            self.detector = drift_mod.DriftDetector(store, self.rollup, self.cfg, sinks)
        if self.metrics_on or self.drift_on:
            self._task = asyncio.create_task(self._background(), name="llmvet-observe")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.rollup is not None:
            with contextlib.suppress(Exception):
                await self.rollup.flush()
        if self.metrics is not None:
            self.metrics.process_exit()

    # ---- the finish hook: request path, keep it cheap -----------------------------------------------------
    def on_record(self, rec: AuditRecord) -> None:  # provenance headers need it even with the rest off
        slot = _SLOT.get()
        if slot is not None:
            slot["rec"] = rec
        if self.metrics is not None:
            self.metrics.observe_record(rec)
            key = rec.get("key") or "anon"
            if key not in self._keys_seen and len(self._keys_seen) < 1000:
                self._keys_seen[key] = rec.get("key_label") or key
        if self.rollup is not None:
            self.rollup.add(rec)

    def on_audit_dropped(self, count: int) -> None:
        if self.metrics is not None:
            self.metrics.audit_dropped.inc(count)

    def on_policy_reload(self, version: str, problems: list[str]) -> None:
        if self.metrics is None:
            return
        if problems:
            self.metrics.policy_reload_failures.inc()
        else:
            self.metrics.serving_policy(self.host.policy_name, version)

    # ---- background: store writes, drift evaluation, budget gauges ----------------------------------------
    async def _background(self) -> None:
        next_check = time.monotonic() + min(self.cfg.check_interval, 5.0)
        next_budget = 0.0
        while True:
            await asyncio.sleep(self.flush_interval)
            now = time.monotonic()
            if self.metrics is not None:
                self.metrics.flush()  # first (it cannot fail): other workers' scrapes read its files
            try:
                if self.rollup is not None:
                    await self.rollup.flush()
                if self.detector is not None and now >= next_check:
                    next_check = now + self.cfg.check_interval
                    await self.check_drift()
                if self.metrics is not None and now >= next_budget:
                    next_budget = now + 15
                    await self.refresh_budgets()
                    await self.refresh_review()
                if self.metrics is not None:
                    await self.refresh_replicas()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._errors.failed(exc, "retrying")
            else:
                self._errors.recovered()

    async def check_drift(self, now: float | None = None) -> list[dict[str, Any]]:
        assert self.detector is not None and self.rollup is not None
        await self.rollup.absorb_all()
        alerts = await self.detector.evaluate(now)
        if self.metrics is not None:
            for group, dims in self.detector.status.items():
                model, rule = split_group(group)
                for dim, st in dims.items():
                    if st["tested"]:
                        self.metrics.drift_status(model, rule, dim, st["psi"], st["p_value"])
        return alerts

    async def refresh_budgets(self) -> None:
        """Today's re-ask token use per key seen by this replica, from the shared store."""
        if not self._keys_seen or self.metrics is None:
            return
        day = keys.budget_day()
        limit = budget_limit(self.host.validators())
        for k, label in list(self._keys_seen.items()):
            used = await read_counter(self.store, keys.BUDGET, keys.budget_key(k, day))
            self.metrics.set_budget(label, used, limit)

    async def refresh_replicas(self) -> None:
        """llmvet_policy_replicas: how many live replicas serve each policy version (their heartbeats)."""
        assert self.metrics is not None
        entries = await serving.live(self.store)
        counts: dict[tuple[str, str], int] = {}
        for policy, replicas in serving.versions(entries).items():
            name, _, version = policy.rpartition("@")
            counts[(name, version)] = len(replicas)
        self.metrics.replica_versions(counts)

    async def refresh_review(self) -> None:
        """Queue depth and review latency from the review queue (when the review extension is installed)."""
        review = self.host.review_access()
        if review is None or self.metrics is None:
            return
        self.metrics.set_queue_depth(await review.pending_count())
        since = self._reviews_since or time.time() - REVIEW_COUNT_WINDOW
        # Decisions since the last look, oldest first, from the queue's index (never the whole history).
        for item in await review.decided_since(since, limit=REVIEW_BATCH):
            final, rid = item.get("decision"), item.get("id")
            if not final or not rid or rid in self._reviews_seen:  # seen: decided at the watermark itself
                continue
            at = final.get("at", 0)
            if at > since:
                since, self._reviews_seen = at, set()
            self._reviews_seen.add(rid)
            # Several replicas read the same queue: the first to claim a decision counts it.
            if await self.store.add(keys.OBSERVE, keys.review_counted_key(rid), 1, ttl=REVIEW_COUNT_WINDOW + 86400):
                self.metrics.observe_review(max(0.0, at - item.get("created", 0)), str(final.get("outcome")))
        self._reviews_since = since

    async def post_webhook(self, alert: dict[str, Any]) -> None:
        assert self.cfg.webhook
        http = self.host.resources.http
        async with http.post(self.cfg.webhook, json=alert) as resp:
            if resp.status >= 300:
                log.warning("drift webhook %s answered HTTP %d", _origin(self.cfg.webhook), resp.status)

    # ---- routes ----------------------------------------------------------------------------------------------
    async def metrics_endpoint(self, request: Request) -> Response:
        assert self.metrics is not None
        body, content_type = self.metrics.exposition()
        return Response(body, media_type=content_type)

    async def _summary(self, request: Request) -> dict[str, Any]:
        from llmvet.observe.report import summarize

        try:
            hours = float(request.query_params.get("hours", "24"))
        except ValueError:
            hours = 24.0
        hours = min(max(hours, 0.25), 24 * 7)
        if self.rollup is not None:
            await self.rollup.flush()  # (it sums what is queued first)
        return await summarize(
            self.store,
            hours=hours,
            cfg=self.cfg,
            budget_limit=budget_limit(self.host.validators()),
            model=request.query_params.get("model") or None,
        )

    async def _denied(self, request: Request, page: bool) -> Response | None:
        """With the review queue installed, the dashboard is for signed-in reviewers (session or token)."""
        review = self.host.review_access()
        if review is None or await review.reviewer_name(request) is not None:
            return None
        if page:
            return RedirectResponse("/review/login?next=/review/dashboard", 303)
        return JSONResponse(
            {
                "error": {
                    "message": "sign in as a reviewer (session cookie or bearer token)",
                    "type": "authentication_error",
                    "code": "unauthorized",
                    "param": None,
                }
            },
            401,
        )

    async def dashboard(self, request: Request) -> Response:
        from llmvet.observe.dashboard import render

        if (denied := await self._denied(request, page=True)) is not None:
            return denied
        summary = await self._summary(request)
        summary["policy"] = f"{self.host.policy_name}@{self.host.policy_version}"
        summary["drift_enabled"] = self.drift_on
        summary["shadow"] = await self._shadow(summary["since"])
        return HTMLResponse(render(summary))

    async def dashboard_json(self, request: Request) -> Response:
        if (denied := await self._denied(request, page=False)) is not None:
            return denied
        summary = await self._summary(request)
        summary["shadow"] = await self._shadow(summary["since"])
        return JSONResponse(summary)

    async def _shadow(self, since: float) -> dict[str, Any]:
        """The shadow diff since `since`: the same one `llmvet report --shadow` prints."""
        from llmvet.observe.shadow_diff import read_diff

        return (await read_diff(self.store, since)).to_dict()


class ObserveMiddleware:
    """Pure ASGI: counts and times every request; adds provenance headers to vetted responses."""

    def __init__(self, app: Any, ext: ObserveExtension) -> None:
        self.app = app
        self.ext = ext
        self.metrics = ext.metrics
        self._headers: dict[tuple[str | None, str | None, int], tuple[tuple[bytes, bytes], ...]] = {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        slot: dict[str, Any] = {}
        token = _SLOT.set(slot)
        status = 500
        provenance = self.ext.provenance_on

        async def send_wrapper(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                rec = slot.get("rec")
                if rec is not None and provenance:
                    message["headers"] = [*message.get("headers", ()), *self.ext_headers(rec)]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            _SLOT.reset(token)
            if self.metrics is not None:
                route = scope.get("route")
                path = getattr(route, "path", None) or "unmatched"
                rec = slot.get("rec")
                self.metrics.observe_request(
                    path, rec.get("model") if rec else None, status, time.perf_counter() - started
                )

    def ext_headers(self, rec: AuditRecord) -> tuple[tuple[bytes, bytes], ...]:
        """Which upstream and model answered, and each validator's verdict (label=verdict, ...)."""
        model = rec.get("upstream_model") or rec.get("model")
        name = str(model) if model else None
        runs = rec.get("validators") or []
        verdicts = ",".join([f"{v.get('validator')}={v.get('status')}" for v in runs]) if runs else None
        key = (name, verdicts, len(rec.get("findings") or ()))
        headers = self._headers.get(key)
        if headers is None:  # a few kinds of answer per replica: their encoded headers are kept
            headers = self._encode_headers(*key)
            if len(self._headers) < 1000:
                self._headers[key] = headers
        return headers

    def _encode_headers(
        self, model: str | None, verdicts: str | None, findings: int
    ) -> tuple[tuple[bytes, bytes], ...]:
        out = [self.ext._upstream_header]
        if model is not None:
            out.append((b"x-llmvet-model", _header_safe(model)))
        if verdicts is not None:
            out.append((b"x-llmvet-validators", _header_safe(verdicts)))
        out.append((b"x-llmvet-findings", str(findings).encode()))
        return tuple(out)


def _origin(url: str) -> str:
    """Scheme and host of a URL, for logs: webhook URLs often carry their secret in the path or query."""
    u = urlparse(url)
    return f"{u.scheme}://{u.hostname}{':' + str(u.port) if u.port else ''}/…"


def _header_safe(value: str) -> bytes:
    return value.encode("ascii", "replace").replace(b"\r", b" ").replace(b"\n", b" ")[:512]


def drift_config() -> drift_mod.DriftConfig:
    """Drift settings from LLMVET_DRIFT_* variables, with one line per bad variable on error."""
    try:
        cfg = drift_mod.DriftEnv()
    except ValidationError as exc:  # one line per bad variable, not a pydantic dump
        problems = "; ".join(f"LLMVET_DRIFT_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"invalid drift setting: {problems}") from None
    return drift_mod.DriftConfig(**cfg.model_dump())


def budget_limit(validators: list[Validator[Any]]) -> float | None:
    """The smallest `daily_token_budget` among the validators (consistency), if any."""
    limits = []
    for validator in validators:
        value = getattr(validator.config, "daily_token_budget", None)
        if isinstance(value, (int, float)):
            limits.append(float(value))
    return min(limits) if limits else None
