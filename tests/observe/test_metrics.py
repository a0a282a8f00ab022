"""Metrics details: what one audit record adds, bounded label values, and `llmvet serve --workers 2`
with PROMETHEUS_MULTIPROC_DIR adding every worker's counts up whichever worker answers the scrape."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest

from llmvet.observe.metrics import MAX_LABEL_VALUES, Metrics
from llmvet.observe.rollup import record_fields
from tests.support.metrics import metric_value, parse_metrics
from tests.support.servers import free_port, wait_port


def samples(metrics: Metrics) -> dict[tuple[str, tuple], float]:
    body, _ = metrics.exposition()
    return parse_metrics(body.decode())


RECORD = {
    "route": "chat.completions",
    "model": "gpt-x",
    "rule": "facts",
    "action": "reask",
    "status": 200,
    "validators": [
        {"validator": "consistency", "status": "error", "ms": 3.0, "error": "budget exhausted"},
        {"validator": "packages", "status": "failed", "ms": 12.0, "cache": {"hits": 3, "misses": 1}},
        {"validator": "uncertainty", "status": "error", "ms": 1000.0, "error": "timed out after 1s"},
    ],
    "findings": [
        {"code": "package.missing", "risk": 0.9},
        {"code": "package.missing", "risk": 0.8},
        {"code": "uncertainty.refusal", "risk": 0.4, "evidence": {"category": "medical"}},
    ],
    "reasks": 2,
    "extra_usage": {"prompt_tokens": 100, "completion_tokens": 40, "total_tokens": 140},
    "timings_ms": {"total": 250.0, "upstream": 200.0, "validate": 40.0},
    "response_chars": 1234,
}


def test_one_record_feeds_every_metric():
    m = Metrics()
    m.observe_record(RECORD)
    s = samples(m)
    assert metric_value(s, "llmvet_decisions_total", rule="facts", action="reask", model="gpt-x") == 1
    assert metric_value(s, "llmvet_validator_verdicts_total", validator="consistency", verdict="budget") == 1
    assert metric_value(s, "llmvet_validator_verdicts_total", validator="uncertainty", verdict="timeout") == 1
    assert metric_value(s, "llmvet_validator_verdicts_total", validator="packages", verdict="failed") == 1
    assert metric_value(s, "llmvet_budget_exhausted_total", rule="facts", validator="consistency") == 1
    assert metric_value(s, "llmvet_registry_cache_total", result="hit") == 3
    assert metric_value(s, "llmvet_registry_cache_total", result="miss") == 1
    assert metric_value(s, "llmvet_findings_total", code="package.missing") == 1  # once per response
    assert metric_value(s, "llmvet_reasks_total", rule="facts") == 2
    assert metric_value(s, "llmvet_extra_tokens_total", kind="total_tokens") == 140
    assert metric_value(s, "llmvet_proxy_overhead_seconds_sum") == pytest.approx(0.05)
    assert metric_value(s, "llmvet_upstream_latency_seconds_sum") == pytest.approx(0.2)
    assert metric_value(s, "llmvet_validator_duration_seconds_count", validator="uncertainty") == 1


def test_records_of_different_kinds_repeated_are_each_counted_under_their_own_labels():
    # The label children are looked up once per kind of record: repeats must not mix kinds up.
    passed = {"validator": "secrets", "status": "passed", "risk": 0.0, "action": "allow", "ms": 2.0}
    failed = {**passed, "status": "failed", "risk": 0.9, "action": "annotate", "ms": 4.0}
    base = {"route": "chat.completions", "rule": "default", "timings_ms": {"total": 30.0, "upstream": 10.0}}
    allow = {**base, "model": "m1", "action": "allow", "validators": [passed]}
    flagged = {**base, "model": "m1", "action": "annotate", "validators": [failed]}
    other_model = {**base, "model": "m2", "action": "allow", "validators": [passed]}
    m = Metrics()
    for rec in [allow, flagged, allow, other_model, flagged, allow]:
        m.observe_record(rec)
    s = samples(m)
    assert metric_value(s, "llmvet_decisions_total", rule="default", action="allow", model="m1") == 3
    assert metric_value(s, "llmvet_decisions_total", rule="default", action="annotate", model="m1") == 2
    assert metric_value(s, "llmvet_decisions_total", action="allow", model="m2") == 1
    assert metric_value(s, "llmvet_validator_verdicts_total", validator="secrets", verdict="passed") == 4
    assert metric_value(s, "llmvet_validator_verdicts_total", validator="secrets", verdict="failed") == 2
    assert metric_value(s, "llmvet_validator_duration_seconds_sum") == pytest.approx((4 * 2.0 + 2 * 4.0) / 1000)
    assert metric_value(s, "llmvet_proxy_overhead_seconds_count") == 6
    assert metric_value(s, "llmvet_proxy_overhead_seconds_sum") == pytest.approx(6 * 0.02)


def test_record_fields_for_the_store():
    c = record_fields(RECORD)
    assert c["a:reask"] == 1 and c["p:package.missing"] == 1  # the riskiest finding sums the response up
    assert c["f:package.missing"] == 1 and c["f:uncertainty.refusal"] == 1
    assert c["r:medical"] == 1 and c["l:1000-1999"] == 1
    assert c["v:consistency:budget"] == 1 and c["v:uncertainty:timeout"] == 1 and c["budget"] == 1
    assert c["reasks"] == 2 and c["tok"] == 140 and c["ms_total"] == 250.0


def test_client_chosen_model_names_cannot_explode_the_series():
    m = Metrics()
    for i in range(MAX_LABEL_VALUES + 50):
        m.observe_request("/v1/chat/completions", f"model-{i}", 200, 0.01)
    s = samples(m)
    models = {dict(ls)["model"] for (n, ls) in s if n == "llmvet_requests_total"}
    assert len(models) == MAX_LABEL_VALUES + 1 and "other" in models
    assert metric_value(s, "llmvet_requests_total", model="other") == 50


def test_workers_share_metrics_through_the_multiprocess_dir(upstream_server, tmp_path):
    mp_dir = tmp_path / "prom"
    mp_dir.mkdir()
    port = free_port()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(mp_dir), "LLMVET_LOG_LEVEL": "warning"}
    upstream_server.reset()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llmvet",
            "serve",
            "--workers",
            "2",
            "--port",
            str(port),
            "--upstream",
            upstream_server.url + "/v1",
            "--store",
            f"sqlite:///{tmp_path / 'llmvet.db'}",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_port(port, 60)
        url = f"http://127.0.0.1:{port}"
        body = {"model": "mp", "messages": [{"role": "user", "content": "hi"}]}
        deadline = time.monotonic() + 30
        while len(list(mp_dir.glob("counter_*.db"))) < 2 and time.monotonic() < deadline:
            httpx.post(url + "/v1/chat/completions", json=body)  # new connection each: both workers get some
        sent = len([r for r in upstream_server.requests if r.path == "/v1/chat/completions"])
        assert len(list(mp_dir.glob("counter_*.db"))) == 2, "both workers should have served"

        def scrape() -> dict:
            return parse_metrics(httpx.get(url + "/metrics").text)

        # A worker counts a request as its response finishes, so the last one may land just after the
        # client has it: wait for the count to settle, then check it from several scrapes.
        settle = time.monotonic() + 10
        while metric_value(scrape(), "llmvet_requests_total", model="mp") != sent and time.monotonic() < settle:
            time.sleep(0.1)
        for _ in range(4):  # whichever worker answers, the scrape adds both up
            got = scrape()
            assert metric_value(got, "llmvet_requests_total", model="mp") == sent
            assert metric_value(got, "llmvet_decisions_total", model="mp") == sent
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
