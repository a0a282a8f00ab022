"""Prometheus metrics for the proxy (prometheus-client).

Single process: one CollectorRegistry per app. Several uvicorn workers: set PROMETHEUS_MULTIPROC_DIR
(an empty directory, before start) and every worker writes its values to files there; /metrics then
adds all workers up with prometheus-client's MultiProcessCollector, whichever worker answers.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from llmvet.observe.rollup import validator_outcome
from llmvet.observe.tally import Tally

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
OVERHEAD_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
MAX_LABEL_VALUES = 200  # per label: model names come from clients, so cap them


def multiprocess_dir() -> str | None:
    # prometheus-client still honours the old lower-case name, so the proxy does too
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir")  # noqa: SIM112


class _Bounded:
    """Caps a label's distinct values (the rest become "other") so clients cannot blow up the series."""

    def __init__(self, cap: int = MAX_LABEL_VALUES) -> None:
        self.cap = cap
        self.seen: set[str] = set()

    def __call__(self, value: Any) -> str:
        v = "-" if value is None else str(value)
        if v in self.seen:
            return v
        if len(self.seen) >= self.cap:
            return "other"
        self.seen.add(v)
        return v


class Metrics:
    def __init__(self) -> None:
        self.multiprocess = multiprocess_dir() is not None
        # In multiprocess mode values live in files; the registry below is only for exposition.
        self.registry = CollectorRegistry(auto_describe=True)
        r = None if self.multiprocess else self.registry
        self.model = _Bounded()
        self.code = _Bounded()

        self._traffic_metrics(r)
        self._verdict_metrics(r)
        self._budget_and_review_metrics(r)
        self._drift_metrics(r)
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self._bundles: dict[tuple[Any, ...], Any] = {}  # see _bundle
        self._request_bundles: dict[tuple[str, str | None, int], Any] = {}  # see observe_request
        self._tally = Tally()  # the request path's updates, until the next flush

    def _traffic_metrics(self, r: CollectorRegistry | None) -> None:
        """Requests and where their time goes."""
        self.requests = Counter(
            "llmvet_requests", "HTTP requests by route, model and status", ["route", "model", "status"], registry=r
        )
        self.request_seconds = Histogram(
            "llmvet_request_duration_seconds",
            "time to answer a request (all routes)",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.upstream_seconds = Histogram(
            "llmvet_upstream_latency_seconds",
            "upstream time per vetted response (re-asks included)",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.overhead_seconds = Histogram(
            "llmvet_proxy_overhead_seconds",
            "time spent in llmvet per vetted response (total minus upstream)",
            ["route"],
            buckets=OVERHEAD_BUCKETS,
            registry=r,
        )

    def _verdict_metrics(self, r: CollectorRegistry | None) -> None:
        """Decisions, validator verdicts, findings and re-asks."""
        self.decisions = Counter(
            "llmvet_decisions",
            "vetted responses by rule, final action and model",
            ["rule", "action", "model"],
            registry=r,
        )
        self.verdicts = Counter(
            "llmvet_validator_verdicts",
            "validator verdicts: passed, failed, error, timeout, budget (re-ask budget exhausted)",
            ["validator", "rule", "verdict"],
            registry=r,
        )
        self.validator_seconds = Histogram(
            "llmvet_validator_duration_seconds",
            "validator run time",
            ["validator"],
            buckets=OVERHEAD_BUCKETS,
            registry=r,
        )
        self.findings = Counter("llmvet_findings", "findings by code and model", ["code", "model"], registry=r)
        self.reasks = Counter("llmvet_reasks", "re-asks (policy action reask)", ["rule", "model"], registry=r)
        self.extra_tokens = Counter(
            "llmvet_extra_tokens", "tokens spent by validators' own re-asks", ["rule", "model", "kind"], registry=r
        )

    def _budget_and_review_metrics(self, r: CollectorRegistry | None) -> None:
        """Re-ask budgets, the review queue, the registry cache."""
        self.budget_exhausted = Counter(
            "llmvet_budget_exhausted",
            "verdicts that hit the per-key daily re-ask budget (the rule's on_error applies)",
            ["rule", "validator"],
            registry=r,
        )
        self.budget_used = Gauge(
            "llmvet_budget_tokens_used",
            "re-ask tokens used today per key (UTC day)",
            ["key"],
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.budget_limit = Gauge(
            "llmvet_budget_tokens_limit",
            "daily re-ask token budget per key",
            ["key"],
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.queue_depth = Gauge(
            "llmvet_review_queue_depth",
            "escalations waiting for a reviewer",
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.review_seconds = Histogram(
            "llmvet_review_latency_seconds",
            "time from escalation to a reviewer's decision",
            ["outcome"],
            buckets=(1, 5, 15, 30, 60, 120, 300, 900, 3600, 14400, 86400),
            registry=r,
        )
        self.audit_dropped = Counter(
            "llmvet_audit_records_dropped", "audit records deleted by retention (age or count)", registry=r
        )
        self.registry_cache = Counter(
            "llmvet_registry_cache",
            "package registry lookups by cache result (hit ratio: rate(hit)/rate(all))",
            ["result"],
            registry=r,
        )

    def _drift_metrics(self, r: CollectorRegistry | None) -> None:
        """Drift of the verdict mix; policy reloads."""
        self.policy_reload_failures = Counter(
            "llmvet_policy_reload_failures", "policy reloads refused (the file did not check)", registry=r
        )
        self.policy_info = Gauge(
            "llmvet_policy_info",
            "the policy this replica serves (1; a policy it served before reads 0)",
            ["policy", "version"],
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self._serving: tuple[str, str] | None = None
        self.policy_replicas = Gauge(
            "llmvet_policy_replicas",
            "live replicas sharing the store that serve each policy version (from their heartbeats)",
            ["policy", "version"],
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self._replica_versions: set[tuple[str, str]] = set()
        self.drift_alerts = Counter(
            "llmvet_drift_alerts", "drift alerts raised", ["model", "rule", "dimension"], registry=r
        )
        self.drift_psi = Gauge(
            "llmvet_drift_psi",
            "population stability index, current vs baseline window",
            ["model", "rule", "dimension"],
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.drift_p = Gauge(
            "llmvet_drift_p_value",
            "chi-square p-value, current vs baseline window",
            ["model", "rule", "dimension"],
            registry=r,
            multiprocess_mode="mostrecent",
        )

    def serving_policy(self, name: str, version: str) -> None:
        """Mark the policy serving; the one before drops to 0 (a cleared series would linger in multiprocess mode)."""
        if self._serving is not None and self._serving != (name, version):
            self.policy_info.labels(*self._serving).set(0)
        self._serving = (name, version)
        self.policy_info.labels(name, version).set(1)

    def replica_versions(self, counts: dict[tuple[str, str], int]) -> None:
        """Live replicas per (policy, version); a version nobody serves any more reads 0."""
        for gone in self._replica_versions - set(counts):
            self.policy_replicas.labels(*gone).set(0)
        for labels, n in counts.items():
            self.policy_replicas.labels(*labels).set(n)
        self._replica_versions = set(counts)

    # ---- request path ------------------------------------------------------------------------------------
    def _child(self, metric: Any, *labels: str) -> Any:
        """metric.labels(...) costs a few µs; the children are cached per label set."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = metric.labels(*labels)
            if len(self._children) < 50_000:
                self._children[key] = child
        return child

    def observe_request(self, route: str, model: str | None, status: int, seconds: float) -> None:
        key = (route, model, status)
        bound = self._request_bundles.get(key)
        if bound is None:  # the children of one kind of request, looked up once (as for records)
            requests = self._child(self.requests, route, self.model(model), str(status))
            bound = requests, self._tally.histogram(self._child(self.request_seconds, route))
            if len(self._request_bundles) < 10_000:
                self._request_bundles[key] = bound
        self._tally.count(bound[0])
        bound[1].add(seconds)

    def observe_record(self, rec: Mapping[str, Any]) -> None:
        """Everything an audit record tells (called from the proxy's finish hook)."""
        route, rule, model = rec.get("route") or "-", rec.get("rule") or "-", self.model(rec.get("model"))
        runs = rec.get("validators") or ()
        outcomes = tuple([(v.get("validator") or "?", validator_outcome(v)) for v in runs])
        key = (route, rule, model, rec.get("action") or "-", outcomes)
        bound = self._bundles.get(key)
        if bound is None:
            bound = self._bundle(*key)
        upstream_h, overhead_h, decisions, per_run = bound
        t = rec.get("timings_ms") or {}
        total, upstream = float(t.get("total") or 0), float(t.get("upstream") or 0)
        upstream_h.add(upstream / 1000)
        overhead_h.add(max(0.0, total - upstream) / 1000)
        count = self._tally.count
        count(decisions)
        for (verdicts, seconds, budget), v in zip(per_run, runs, strict=True):
            count(verdicts)
            seconds.add(float(v.get("ms") or 0) / 1000)
            if budget is not None:
                count(budget)
            cache = v.get("cache")  # {"hits": n, "misses": m} when a validator reports its cache use
            if isinstance(cache, dict):
                if cache.get("hits"):
                    count(self._child(self.registry_cache, "hit"), cache["hits"])
                if cache.get("misses"):
                    count(self._child(self.registry_cache, "miss"), cache["misses"])
        findings = rec.get("findings")
        if findings:
            for code in {f.get("code") for f in findings}:
                count(self._child(self.findings, self.code(code), model))
        if rec.get("reasks"):
            count(self._child(self.reasks, rule, model), rec["reasks"])
        for kind, n in (rec.get("extra_usage") or {}).items():
            if n:
                count(self._child(self.extra_tokens, rule, model, kind), n)

    def _bundle(self, route: str, rule: str, model: str, action: str, outcomes: tuple[tuple[str, str], ...]) -> Any:
        """The label children one kind of record touches, looked up once: most records of a replica are
        of a few kinds (route, rule, model, action, each validator's outcome)."""
        c, h = self._child, self._tally.histogram
        per_run = [
            (
                c(self.verdicts, name, rule, outcome),
                h(c(self.validator_seconds, name)),
                c(self.budget_exhausted, rule, name) if outcome == "budget" else None,
            )
            for name, outcome in outcomes
        ]
        bound = (
            h(c(self.upstream_seconds, route)),
            h(c(self.overhead_seconds, route)),
            c(self.decisions, rule, action, model),
            per_run,
        )
        if len(self._bundles) < 10_000:
            self._bundles[(route, rule, model, action, outcomes)] = bound
        return bound

    # ---- for other parts of llmvet (review queue, drift, budgets) ---------------------------------------------
    def set_queue_depth(self, n: int) -> None:
        self.queue_depth.set(n)

    def observe_review(self, seconds: float, outcome: str) -> None:
        self.review_seconds.labels(outcome).observe(seconds)

    def registry_lookup(self, hit: bool, n: int = 1) -> None:
        self.registry_cache.labels("hit" if hit else "miss").inc(n)

    def drift_status(self, model: str, rule: str, dim: str, psi: float, p: float) -> None:
        self.drift_psi.labels(self.model(model), rule, dim).set(psi)
        self.drift_p.labels(self.model(model), rule, dim).set(p)

    def drift_alert(self, alert: dict[str, Any]) -> None:
        self.drift_alerts.labels(self.model(alert["model"]), alert["rule"], alert["dimension"]).inc()

    def set_budget(self, key: str, used: float, limit: float | None) -> None:
        self.budget_used.labels(key).set(used)
        if limit is not None:
            self.budget_limit.labels(key).set(limit)

    # ---- exposition ------------------------------------------------------------------------------------------
    def flush(self) -> None:
        """Hand the request path's sums to prometheus-client (see tally.py)."""
        self._tally.flush()

    def exposition(self) -> tuple[bytes, str]:
        self.flush()
        if self.multiprocess:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def process_exit(self) -> None:
        """Drop this worker's live gauges (multiprocess mode) when it stops."""
        self.flush()  # its counts stay in the files for the other workers' scrapes
        if self.multiprocess:
            multiprocess.mark_process_dead(os.getpid())
