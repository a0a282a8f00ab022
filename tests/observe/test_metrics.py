"""Metrics details: what one audit record adds, bounded label values, and `llmvet serve --workers 2`
with PROMETHEUS_MULTIPROC_DIR adding every worker's counts up whichever worker answers the scrape."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from llmvet.observe.metrics import LATENCY_BUCKETS, MAX_LABEL_VALUES, Metrics
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


def test_summed_observations_land_in_the_buckets_prometheus_itself_would_choose():
    # The request path sums observations per bucket and hands them over at a flush (observe/tally.py):
    # every bucket, the sum and the count must match prometheus-client's own observe(), bounds included.
    from prometheus_client import CollectorRegistry, Histogram, generate_latest

    values = [0.0, 0.004, *LATENCY_BUCKETS, *(b + 1e-9 for b in LATENCY_BUCKETS), 0.3, 0.3, 500.0, 1e9]
    reference_registry = CollectorRegistry()
    reference = Histogram(
        "llmvet_request_duration_seconds", "", ["route"], buckets=LATENCY_BUCKETS, registry=reference_registry
    )
    m = Metrics()
    for i, v in enumerate(values):
        reference.labels("/v1/chat/completions").observe(v)
        m.observe_request("/v1/chat/completions", "gpt-x", 200, v)
        if i == len(values) // 2:
            samples(m)  # a scrape in the middle: the rest is added to what it flushed
    want = {
        k: v for k, v in parse_metrics(generate_latest(reference_registry).decode()).items() if "created" not in k[0]
    }
    got = {k: v for k, v in samples(m).items() if k[0].startswith("llmvet_request_duration_seconds")}
    got = {k: v for k, v in got.items() if "created" not in k[0]}
    assert set(got) == set(want) and len(want) == len(LATENCY_BUCKETS) + 3  # buckets with +Inf, sum, count
    for key, value in want.items():
        assert got[key] == pytest.approx(value), key


def test_a_scrape_flushes_once_and_later_records_add_to_it():
    m = Metrics()
    rec = {**RECORD, "validators": RECORD["validators"][:1], "findings": [], "reasks": 0, "extra_usage": {}}
    for _ in range(3):
        m.observe_record(rec)
    first, again = samples(m), samples(m)  # the second scrape must not count the same records twice
    for s in (first, again):
        assert metric_value(s, "llmvet_decisions_total", rule="facts") == 3
        assert metric_value(s, "llmvet_validator_verdicts_total", validator="consistency", verdict="budget") == 3
        assert metric_value(s, "llmvet_budget_exhausted_total", validator="consistency") == 3
        assert metric_value(s, "llmvet_upstream_latency_seconds_count") == 3
        assert metric_value(s, "llmvet_upstream_latency_seconds_sum") == pytest.approx(0.6)
    m.observe_record(rec)
    m.observe_record(rec)
    later = samples(m)
    assert metric_value(later, "llmvet_decisions_total", rule="facts") == 5
    assert metric_value(later, "llmvet_validator_duration_seconds_count", validator="consistency") == 5
    assert metric_value(later, "llmvet_validator_duration_seconds_sum") == pytest.approx(5 * 0.003)


@contextlib.contextmanager
def multiprocess_serve(upstream_server, tmp_path, workers: int) -> Iterator[tuple[str, Path]]:
    """`llmvet serve --workers N` with PROMETHEUS_MULTIPROC_DIR set: (its URL, that folder)."""
    mp_dir = tmp_path / "prom"
    mp_dir.mkdir()
    port = free_port()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(mp_dir), "LLMVET_LOG_LEVEL": "warning"}
    upstream_server.reset()
    command = [sys.executable, "-m", "llmvet", "serve", "--workers", str(workers), "--port", str(port)]
    command += ["--upstream", upstream_server.url + "/v1", "--store", f"sqlite:///{tmp_path / 'llmvet.db'}"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_port(port, 60)
        yield f"http://127.0.0.1:{port}", mp_dir
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_workers_share_metrics_through_the_multiprocess_dir(upstream_server, tmp_path):
    with multiprocess_serve(upstream_server, tmp_path, 2) as (url, mp_dir):
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


def test_a_worker_writes_its_counts_to_the_shared_files_without_being_scraped(upstream_server, tmp_path):
    # Another worker's scrape reads this one's counts from the files only: the request path's sums
    # must reach them on their own (observe's background flush, every second), not only when scraped.
    from prometheus_client import CollectorRegistry, generate_latest, multiprocess

    with multiprocess_serve(upstream_server, tmp_path, 1) as (url, mp_dir):
        body = {"model": "unscraped", "messages": [{"role": "user", "content": "hi"}]}
        for _ in range(5):
            assert httpx.post(url + "/v1/chat/completions", json=body).status_code == 200

        def from_files() -> dict:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=str(mp_dir))
            return parse_metrics(generate_latest(registry).decode())

        deadline = time.monotonic() + 10
        while metric_value(from_files(), "llmvet_decisions_total", model="unscraped") < 5:
            assert time.monotonic() < deadline, "the counts never reached the multiprocess files"
            time.sleep(0.2)
        got = from_files()
        assert metric_value(got, "llmvet_requests_total", model="unscraped") == 5
        assert metric_value(got, "llmvet_decisions_total", model="unscraped") == 5
        assert metric_value(got, "llmvet_proxy_overhead_seconds_count", route="chat.completions") == 5
