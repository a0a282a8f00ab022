"""Observability through the real proxy: /metrics after scripted openai-SDK traffic, provenance headers
and audit fields, budget exhaustion counted, the dashboard in headless Chromium, `llmvet report`."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import time

import httpx
import openai
import pytest

from llmvet.observe.extension import ObserveExtension
from llmvet.review.extension import ReviewExtension
from tests.support.browser import CHROMIUM, launch
from tests.support.fake_upstream import Reply
from tests.support.metrics import metric_value, parse_metrics

POLICY = """
version: 1
name: observe-test
rules:
  - name: strict
    match: {models: ["strict-*"]}
    validators:
      - use: regex
        id: forbidden
        with: {must_not_match: ["FORBIDDEN"]}
    on_fail: block
  - name: budgeted
    match: {models: ["budget-*"]}
    validators:
      - use: consistency
        with: {samples: 2, semantic_weight: 0, daily_token_budget: 50, min_answer_chars: 10}
        timeout: 10
    on_error: open
  - name: default
    match: {models: ["*"]}
    validators:
      - use: regex
        id: secrets
        with: {must_not_match: ["AKIA[0-9A-Z]{16}"]}
    on_fail: annotate
"""

SECRET = "key AKIA" + "B" * 16 + " here"


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    return parse_metrics(httpx.get(url + "/metrics").text)


def script(body: dict) -> Reply:
    last = body.get("messages", [{}])[-1].get("content", "") if "messages" in body else str(body.get("input", ""))
    if "secret" in last:
        return Reply(text=SECRET)
    if "forbidden" in last:
        return Reply(text="this is FORBIDDEN text")
    if "boom" in last:
        return Reply(status=500, error={"message": "upstream broke", "type": "server_error"})
    return Reply(text="A fine answer of some length.")


@pytest.fixture
def proxy(fake, make_proxy):
    fake.reset(script)
    return make_proxy(POLICY)


@pytest.fixture
def client(proxy):
    return openai.OpenAI(base_url=proxy.url + "/v1", api_key="sk-observe", max_retries=0)


def chat(client, model: str, text: str, **kw):
    return client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": text}], **kw
    )


def test_metrics_after_scripted_traffic(proxy, client):
    for _ in range(5):
        chat(client, "m1", "hello")
    for _ in range(3):
        chat(client, "m1", "secret please")
    for _ in range(2):
        with pytest.raises(openai.UnprocessableEntityError):
            client.chat.completions.create(model="strict-1", messages=[{"role": "user", "content": "forbidden"}])
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="m2", messages=[{"role": "user", "content": "boom"}])
    list(client.chat.completions.create(model="m1", messages=[{"role": "user", "content": "hi"}], stream=True))
    client.responses.create(model="m1", input="hello")
    client.models.list()

    m = scrape(proxy.url)
    chat_route = "/v1/chat/completions"
    assert metric_value(m, "llmvet_requests_total", route=chat_route, model="m1", status="200") == 9
    assert metric_value(m, "llmvet_requests_total", route=chat_route, model="strict-1", status="422") == 2
    assert metric_value(m, "llmvet_requests_total", route=chat_route, model="m2", status="500") == 1
    assert metric_value(m, "llmvet_requests_total", route="/v1/responses", model="m1") == 1
    assert metric_value(m, "llmvet_requests_total", route="/v1/{path:path}", model="-", status="200") == 1
    assert metric_value(m, "llmvet_request_duration_seconds_count", route=chat_route) == 12

    assert metric_value(m, "llmvet_decisions_total", rule="default", action="allow", model="m1") == 7
    assert metric_value(m, "llmvet_decisions_total", rule="default", action="annotate", model="m1") == 3
    assert metric_value(m, "llmvet_decisions_total", rule="strict", action="block", model="strict-1") == 2
    assert metric_value(m, "llmvet_decisions_total", action="upstream_error", model="m2") == 1
    assert metric_value(m, "llmvet_validator_verdicts_total", validator="secrets", verdict="failed") == 3
    # 7 answers, and the upstream error: its text is vetted too (and passes)
    assert metric_value(m, "llmvet_validator_verdicts_total", validator="secrets", verdict="passed") == 8
    assert metric_value(m, "llmvet_validator_verdicts_total", validator="forbidden", verdict="failed") == 2
    assert metric_value(m, "llmvet_validator_duration_seconds_count", validator="secrets") == 11
    assert metric_value(m, "llmvet_findings_total", code="regex.must_not_match", model="m1") == 3
    assert metric_value(m, "llmvet_findings_total", code="regex.must_not_match", model="strict-1") == 2
    # every vetted response (the upstream error too) has its upstream time and llmvet's overhead
    assert metric_value(m, "llmvet_upstream_latency_seconds_count") == 13
    assert metric_value(m, "llmvet_proxy_overhead_seconds_count") == 13
    assert metric_value(m, "llmvet_proxy_overhead_seconds_sum") > 0


def test_reasks_are_counted(fake, make_proxy):
    policy = POLICY.replace(
        "    on_fail: block\n", "    on_fail: reask\n    reask: {attempts: 2, fallback: block}\n", 1
    )
    calls = {"n": 0}

    def forbidden_then_fine(body):
        calls["n"] += 1
        return Reply(text="FORBIDDEN" if calls["n"] == 1 else "fine now")

    fake.reset(forbidden_then_fine)
    proxy = make_proxy(policy)
    client = openai.OpenAI(base_url=proxy.url + "/v1", api_key="sk-observe", max_retries=0)
    raw = chat(client, "strict-x", "hi")
    assert raw.headers["x-llmvet-reasks"] == "1"
    m = scrape(proxy.url)
    assert metric_value(m, "llmvet_reasks_total", rule="strict", model="strict-x") == 1
    # the second answer passed, so the final decision is allow (the body says it was re-asked)
    assert metric_value(m, "llmvet_decisions_total", rule="strict", action="allow", model="strict-x") == 1


def test_provenance_headers_and_audit_record(proxy, client):
    raw = chat(client, "m1", "secret please")
    h = raw.headers
    assert h["x-llmvet-request-id"].startswith("req_")
    assert h["x-llmvet-decision"] == "annotate"
    assert h["x-llmvet-rule"] == "default"
    assert h["x-llmvet-policy"] == f"observe-test@{proxy.proxy.policy.version}"
    assert h["x-llmvet-upstream"] == httpx.URL(proxy.proxy.upstream.base_url).netloc.decode()
    assert h["x-llmvet-model"] == "m1"  # the model the upstream said answered
    assert h["x-llmvet-validators"] == "secrets=failed"
    assert h["x-llmvet-findings"] == "1"
    body = raw.parse().model_extra["llmvet"]
    assert body["request_id"] == h["x-llmvet-request-id"]

    # Incremental streams send their headers before any verdict exists: the verdicts are in the audit
    # record (and, when the rule annotates, in the llmvet field of the last event).
    stream = chat(client, "m1", "hello", stream=True)
    assert stream.headers["x-llmvet-decision"] == "incremental"
    assert "x-llmvet-validators" not in stream.headers
    stream_id = stream.headers["x-llmvet-request-id"]
    # Blocked responses too (the headers of the error response).
    with pytest.raises(openai.UnprocessableEntityError) as err:
        client.chat.completions.create(model="strict-9", messages=[{"role": "user", "content": "forbidden"}])
    assert err.value.response.headers["x-llmvet-validators"] == "forbidden=failed"
    assert err.value.response.headers["x-llmvet-decision"] == "block"

    # The audit record holds the same facts, so a response can be traced back later.
    rid = h["x-llmvet-request-id"]
    records = _audit(proxy, rid, stream_id)
    rec = next(r for r in records if r["request_id"] == rid)
    streamed = next(r for r in records if r["request_id"] == stream_id)
    assert streamed["stream"] and [v["status"] for v in streamed["validators"]] == ["passed"]
    assert rec["upstream_model"] == "m1"
    assert rec["upstream"] == proxy.proxy.upstream.base_url
    assert rec["policy"] == "observe-test" and rec["policy_version"] == proxy.proxy.policy.version
    assert [(v["validator"], v["status"]) for v in rec["validators"]] == [("secrets", "failed")]
    assert rec["response_chars"] == len(SECRET)


def _audit(proxy, *request_ids: str) -> list[dict]:
    """The audit records, once there are some (and once those of `request_ids` are in: the audit
    writer flushes in batches, off the response path)."""

    async def read():
        store = proxy.proxy.resources.store
        return [r for _, r in await store.read("audit", None, 10_000)]

    deadline = time.time() + 5
    while True:
        fut = asyncio.run_coroutine_threadsafe(read(), _loop(proxy))
        records = fut.result(5)
        present = {r.get("request_id") for r in records}
        if (records and present.issuperset(request_ids)) or time.time() > deadline:
            return records
        time.sleep(0.1)


def _observe(server) -> ObserveExtension:
    ext = server.proxy.extension(ObserveExtension)
    assert ext is not None
    return ext


def _loop(server):
    """The event loop of the server thread (the store's connection belongs to it)."""
    return _observe(server)._task.get_loop()


def reviewer_headers(proxy) -> dict[str, str]:
    """A reviewer's bearer token: with the review queue installed the dashboard is for reviewers only."""
    review = proxy.proxy.extension(ReviewExtension)
    if review is None:
        return {}
    token = asyncio.run_coroutine_threadsafe(review.service.accounts.add("observer"), _loop(proxy)).result(5)
    return {"Authorization": f"Bearer {token}"}


def test_dashboard_needs_a_reviewer_when_the_review_queue_is_installed(proxy):
    if proxy.proxy.extension(ReviewExtension) is None:
        pytest.skip("review extension not installed")
    page = httpx.get(proxy.url + "/review/dashboard", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/review/login")
    data = httpx.get(proxy.url + "/review/dashboard.json")
    assert data.status_code == 401 and data.json()["error"]["code"] == "unauthorized"
    bad = httpx.get(proxy.url + "/review/dashboard.json", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    ok = httpx.get(proxy.url + "/review/dashboard.json", headers=reviewer_headers(proxy))
    assert ok.status_code == 200 and "models" in ok.json()


def test_budget_exhaustion_is_counted_and_visible(fake, proxy, client):
    pytest.importorskip("llmvet.validators.consistency")
    key_hash = hashlib.sha256(b"sk-observe").hexdigest()[:12]
    day = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")

    async def exhaust():
        await proxy.proxy.resources.store.set("budget", f"{key_hash}:{day}", 49)

    asyncio.run_coroutine_threadsafe(exhaust(), _loop(proxy)).result(5)
    text = "Paris had 2 million people in 2020. Berlin had 3 million people in 2021."
    fake.reset(lambda body: Reply(text=text))
    for _ in range(2):
        raw = chat(client, "budget-1", "how many people?")
        assert raw.headers["x-llmvet-validators"] == "consistency=error"
        assert raw.headers["x-llmvet-decision"] == "allow"  # on_error: open
    ext = _observe(proxy)
    asyncio.run_coroutine_threadsafe(ext.refresh_budgets(), _loop(proxy)).result(5)
    m = scrape(proxy.url)
    assert metric_value(m, "llmvet_budget_exhausted_total", rule="budgeted", validator="consistency") == 2
    assert metric_value(m, "llmvet_validator_verdicts_total", validator="consistency", verdict="budget") == 2
    assert metric_value(m, "llmvet_budget_tokens_used", key=key_hash) == 49
    assert metric_value(m, "llmvet_budget_tokens_limit", key=key_hash) == 50

    summary = httpx.get(proxy.url + "/review/dashboard.json", headers=reviewer_headers(proxy)).json()
    assert summary["budgets"] == [
        {"key": key_hash, "day": day, "used": 49, "limit": 50.0, "exhausted": False, "share": 0.98}
    ]
    (budget_model,) = [m for m in summary["models"] if m["model"] == "budget-1"]
    assert budget_model["budget_exhausted"] == 2


def test_metrics_can_be_turned_off(fake, make_proxy, monkeypatch):
    monkeypatch.setenv("LLMVET_METRICS", "0")
    monkeypatch.setenv("LLMVET_DRIFT", "0")
    fake.reset(script)
    proxy = make_proxy(POLICY)
    client = openai.OpenAI(base_url=proxy.url + "/v1", api_key="sk-observe", max_retries=0)
    raw = chat(client, "m1", "hello")
    assert raw.headers["x-llmvet-validators"] == "secrets=passed"  # provenance stays on
    # /metrics is gone: the path falls through to the 404 of the router
    assert httpx.get(proxy.url + "/metrics").status_code == 404
    ext = _observe(proxy)
    assert ext.metrics is None and ext.rollup is None and ext.detector is None and ext._task is None


def test_dashboard_in_headless_chromium(fake, proxy, client, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")

    if CHROMIUM is None:
        pytest.skip("chromium is not installed")
    for _ in range(4):
        chat(client, "m1", "hello")
    for _ in range(2):
        chat(client, "m1", "secret please")

    async def alert():
        await proxy.proxy.resources.store.append(
            "alerts",
            [
                {
                    "type": "drift_alert",
                    "ts": time.time(),
                    "model": "m1",
                    "rule": "default",
                    "dimension": "decision",
                    "p_value": 1e-9,
                    "psi": 0.42,
                    "chi2": 50.0,
                    "dof": 2,
                    "n_baseline": 500,
                    "n_current": 300,
                    "moved": {"annotate": {"baseline": 0.1, "current": 0.4}},
                }
            ],
        )

    asyncio.run_coroutine_threadsafe(alert(), _loop(proxy)).result(5)
    with playwright.sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_context(extra_http_headers=reviewer_headers(proxy)).new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            resp = page.goto(proxy.url + "/review/dashboard")
            assert resp is not None and resp.status == 200
            section = page.locator('section[data-model="m1"]')
            assert section.locator(".requests").inner_text() == "6"
            # the stacked traffic chart has one bar segment per (time bar, action) with traffic
            actions = {
                section.locator("rect.bar").nth(i).get_attribute("data-action")
                for i in range(section.locator("rect.bar").count())
            }
            assert actions == {"allow", "annotate"}
            assert section.locator("svg.chart").first.is_visible()
            assert "regex.must_not_match" in section.inner_text()
            row = page.locator("#alerts tr.alert-row")
            assert row.count() == 1 and "annotate 10.0%→40.0%" in row.inner_text()
            page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
            assert errors == []
        finally:
            browser.close()


def test_report_command_reads_the_same_store(fake, proxy, client, tmp_path, capsys):
    from llmvet.cli import main

    for _ in range(3):
        chat(client, "m1", "hello")
    chat(client, "m1", "secret please")
    asyncio.run_coroutine_threadsafe(_observe(proxy).rollup.flush(), _loop(proxy)).result(5)
    store = proxy.proxy.settings.store
    assert main(["report", "--store", store, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    (m1,) = [m for m in data["models"] if m["model"] == "m1"]
    assert m1["requests"] == 4 and m1["actions"] == [["allow", 3], ["annotate", 1]]
    assert m1["findings"] == [["regex.must_not_match", 1]]
    assert main(["report", "--store", store]) == 0
    text = capsys.readouterr().out
    assert "m1" in text and "regex.must_not_match" in text and "annotate" in text


def test_review_queue_depth_and_latency(fake, make_proxy):
    review_ext = pytest.importorskip("llmvet.review.extension")
    policy = POLICY.replace(
        "    on_fail: block\n", "    on_fail: escalate\n    escalate: {mode: defer, timeout: 600}\n", 1
    )
    fake.reset(script)
    proxy = make_proxy(policy)
    review = next(e for e in proxy.proxy.extensions if isinstance(e, review_ext.ReviewExtension))
    client = openai.OpenAI(base_url=proxy.url + "/v1", api_key="sk-observe", max_retries=0)
    ids = [chat(client, "strict-r", "forbidden").headers["x-llmvet-review-id"] for _ in range(2)]
    ext, loop = _observe(proxy), _loop(proxy)

    def refresh():
        asyncio.run_coroutine_threadsafe(ext.refresh_review(), loop).result(5)
        return scrape(proxy.url)

    m = refresh()
    assert metric_value(m, "llmvet_review_queue_depth") == 2
    assert metric_value(m, "llmvet_review_latency_seconds_count") == 0
    asyncio.run_coroutine_threadsafe(review.service.queue.decide(ids[0], "alice", "approved"), loop).result(5)
    m = refresh()
    assert metric_value(m, "llmvet_review_queue_depth") == 1
    assert metric_value(m, "llmvet_review_latency_seconds_count", outcome="approved") == 1
    assert metric_value(m, "llmvet_review_latency_seconds_count") == 1
    assert metric_value(refresh(), "llmvet_review_latency_seconds_count") == 1  # a decision is counted once

    # A decision from before the "counted" marker's life (9 days ago) was counted back then: a replica
    # started now must not count it again.
    store = proxy.proxy.resources.store

    async def old_decision() -> None:
        item = await review.service.queue.enqueue(
            {
                "request_id": "req_old",
                "mode": "defer",
                "rule": "strict",
                "model": "strict-r",
                "created": time.time() - 10 * 86400,
            }
        )
        await store.add(
            "review_final",
            item["id"],
            {"outcome": "approved", "reviewer": "bob", "reason": "", "at": time.time() - 9 * 86400},
        )
        await store.delete("review_item", ids[0])

    asyncio.run_coroutine_threadsafe(old_decision(), loop).result(5)
    assert metric_value(refresh(), "llmvet_review_latency_seconds_count") == 1
    # what a replica remembers is bounded: the decisions at its watermark, not every one it has seen
    assert ext._reviews_seen == {ids[0]} and ext._reviews_since is not None


def test_a_failing_drift_webhook_is_logged_without_its_secret_path(fake, make_proxy, monkeypatch, caplog):
    """Webhook URLs (e.g. chat incoming webhooks) carry their secret in the path: logs show the host only."""
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    from tests.support.servers import ThreadedServer

    async def broken(request):
        return Response(status_code=500)

    with ThreadedServer(Starlette(routes=[Route("/services/T0/B0/s3cr3t-t0ken", broken, methods=["POST"])])) as hook:
        monkeypatch.setenv("LLMVET_DRIFT_WEBHOOK", hook.url + "/services/T0/B0/s3cr3t-t0ken")
        fake.reset(script)
        proxy = make_proxy(POLICY)
        ext = _observe(proxy)
        with caplog.at_level("WARNING", logger="llmvet.observe"):
            asyncio.run_coroutine_threadsafe(ext.post_webhook({"type": "drift_alert"}), _loop(proxy)).result(10)
    logged = [r.getMessage() for r in caplog.records if r.name == "llmvet.observe"]
    assert any("answered HTTP 500" in m for m in logged)
    assert not any("s3cr3t" in m for m in logged)
