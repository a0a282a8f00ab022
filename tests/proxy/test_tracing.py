"""OpenTelemetry spans of vetted requests, read from an in-memory exporter, end to end through the openai
SDK, the loopback fake upstream and the fake registry: the client's W3C trace context is continued,
the upstream gets llmvet's upstream-call span as parent, every step (upstream call, validator, re-ask,
registry lookup, review wait) is a child of the request span, streams included, and no span attribute
carries the API key, the prompt or the answer."""

from __future__ import annotations

import time
from typing import Any

import httpx
import openai
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.support.fake_registry import pypi_policy, running_registry
from tests.support.fake_upstream import Reply

POLICY = """
version: 1
name: tracing-test
rules:
  - name: vetted
    validators:
      - use: regex
        with: {must_not_match: ["forbidden"], severity: high}
        on_fail: block
"""
TRACE_ID, CLIENT_SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
KEY = "sk-trace-secret-key-3141"
MARK = "ZEBRA-ANSWER-MARK-7731"  # in every answer: must never reach a span
ASKED = "OKAPI-PROMPT-MARK-4410"  # in every prompt: likewise
MISSING = "fastjsonparse-turbo-9"  # a package the fake registry does not know


@pytest.fixture(scope="module")
def spans():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)  # once per process; llmvet's tracer delegates to it
    return exporter


@pytest.fixture(scope="module")
def registry():
    with running_registry() as reg:
        yield reg


def client(server: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key=KEY, max_retries=0)


def ask(server: Any, **extra: Any) -> Any:
    messages = [{"role": "user", "content": f"question {ASKED}"}]
    return client(server).chat.completions.with_raw_response.create(model="gpt-x", messages=messages, **extra)


def request_span(exporter: InMemorySpanExporter, request_id: str) -> Any:
    """The request's span, once ended (a stream's ends on the server after the client read its end)."""
    ended = eventually(
        lambda: {s.attributes.get("llmvet.request_id"): s for s in exporter.get_finished_spans()}, request_id
    )
    return ended[request_id]


def trace_of(exporter: InMemorySpanExporter, root: Any) -> dict[str, list[Any]]:
    """Every finished span under `root` (itself excluded), by name."""
    by_id = {s.context.span_id: s for s in exporter.get_finished_spans()}
    out: dict[str, list[Any]] = {}
    for s in by_id.values():
        parent = s.parent
        while parent is not None and parent.span_id != root.context.span_id:
            up = by_id.get(parent.span_id)
            parent = up.parent if up is not None else None
        if parent is not None:
            assert s.context.trace_id == root.context.trace_id
            out.setdefault(s.name, []).append(s)
    return out


def eventually(read: Any, key: str, timeout: float = 10.0) -> Any:
    """`read()` once its result has `key` (spans ended by work that outlives the response)."""
    deadline = time.monotonic() + timeout
    while key not in (found := read()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def checked_by(children: dict[str, Any]) -> dict[str, Any]:
    """The validators with an ended span among `children` (as keys), and the children themselves."""
    names = {c.attributes["llmvet.validator"] for c in children.get("llmvet validator", [])}
    return {**dict.fromkeys(names), "children": children}


def assert_nothing_secret(exporter: InMemorySpanExporter) -> None:
    """Scan every exported span's name, attributes, events and status for the key, prompt and answer."""
    seen = []
    for s in exporter.get_finished_spans():
        seen.append(s.name)
        seen.append(s.status.description or "")
        for value in s.attributes.values():
            seen.append(str(value))
        for event in s.events:
            seen.extend(str(v) for v in (event.attributes or {}).values())
    blob = "\n".join(seen)
    assert len(exporter.get_finished_spans()) > 0
    for secret in (KEY, MARK, ASKED):
        assert secret not in blob


def test_client_trace_is_continued_and_propagated_upstream(spans, fake, make_proxy):
    spans.clear()
    fake.reset(lambda body: Reply(text=f"A fine answer {MARK}."))
    server = make_proxy(POLICY)
    raw = ask(server, extra_headers={"traceparent": f"00-{TRACE_ID}-{CLIENT_SPAN}-01"})
    span = request_span(spans, raw.headers["x-llmvet-request-id"])
    assert span.name == "llmvet chat.completions" and span.kind is trace.SpanKind.SERVER
    assert f"{span.context.trace_id:032x}" == TRACE_ID  # the client's trace, continued
    assert f"{span.parent.span_id:016x}" == CLIENT_SPAN
    assert span.attributes["llmvet.decision"] == "allow" and span.attributes["llmvet.rule"] == "vetted"
    assert span.attributes["http.response.status_code"] == 200
    children = trace_of(spans, span)
    (call,) = children["llmvet upstream"]
    assert call.kind is trace.SpanKind.CLIENT and call.parent.span_id == span.context.span_id
    assert call.attributes["llmvet.upstream.purpose"] == "answer"
    assert call.attributes["http.response.status_code"] == 200
    sent = fake.requests[-1].headers["traceparent"]  # the upstream's parent is llmvet's upstream call
    assert sent == f"00-{TRACE_ID}-{call.context.span_id:016x}-01"
    (check,) = children["llmvet validator"]
    assert check.attributes["llmvet.validator"] == "regex" and check.attributes["llmvet.status"] == "passed"
    assert check.attributes["llmvet.findings.count"] == 0 and check.attributes["llmvet.action"] == "allow"
    assert_nothing_secret(spans)


def test_a_blocked_answer_is_a_span_with_its_decision_and_finding_codes(spans, fake, make_proxy):
    spans.clear()
    fake.reset(lambda body: Reply(text=f"this is forbidden text {MARK}"))
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        ask(make_proxy(POLICY))
    span = request_span(spans, caught.value.response.headers["x-llmvet-request-id"])
    assert span.parent is None  # no trace context from the client: a new trace
    assert span.attributes["llmvet.decision"] == "block" and span.attributes["http.response.status_code"] == 422
    (check,) = trace_of(spans, span)["llmvet validator"]
    assert check.attributes["llmvet.status"] == "failed" and check.attributes["llmvet.action"] == "block"
    assert check.attributes["llmvet.findings.count"] == 1
    assert list(check.attributes["llmvet.findings.codes"]) == ["regex.must_not_match"]
    assert_nothing_secret(spans)


def packages_policy(registry: Any) -> str:
    return pypi_policy(registry.url, "reask", "    reask: {attempts: 1, fallback: block}\n")


def _made_up_then_real(body: dict[str, Any]) -> Reply:
    again = len(body.get("messages", [])) > 1
    package = "requests" if again else MISSING
    return Reply(text=f"Run `pip install {package}` then read {MARK}.")


def test_a_reask_and_its_registry_lookups_are_spans(spans, fake, make_proxy, registry):
    spans.clear()
    fake.reset(_made_up_then_real)
    server = make_proxy(packages_policy(registry))
    raw = ask(server)
    assert MISSING not in raw.http_response.text  # the client got the second answer
    span = request_span(spans, raw.headers["x-llmvet-request-id"])
    assert span.attributes["llmvet.decision"] == "allow" and span.attributes["llmvet.reasks"] == 1
    children = trace_of(spans, span)
    purposes = sorted(c.attributes["llmvet.upstream.purpose"] for c in children["llmvet upstream"])
    assert purposes == ["answer", "reask"]
    (reask,) = children["llmvet reask"]
    assert reask.attributes["llmvet.reask.attempt"] == 1 and reask.attributes["llmvet.reask.decision"] == "allow"
    first, second = sorted(children["llmvet validator"], key=lambda s: s.start_time)
    assert "package.missing" in first.attributes["llmvet.findings.codes"]
    assert first.attributes["llmvet.action"] == "reask" and second.attributes["llmvet.action"] == "allow"
    assert second.parent.span_id == reask.context.span_id  # the re-ask's check nests under it
    lookups = children["llmvet registry lookup"]
    assert all(list(s.attributes["llmvet.registry.ecosystems"]) == ["pypi"] for s in lookups)
    assert sum(s.attributes["llmvet.registry.fetched"] for s in lookups) == 2  # both names were cache misses
    fetches = {s.attributes["llmvet.package"]: s for s in children["llmvet registry fetch"]}
    assert fetches[MISSING].attributes["llmvet.registry.status"] == "missing"
    assert fetches["requests"].attributes["llmvet.registry.status"] == "found"
    assert all("://" not in str(v) for s in fetches.values() for v in s.attributes.values())  # no index URL

    # Another replica on the same store: the names come from the shared cache, no registry request.
    spans.clear()
    fake.reset(_made_up_then_real)
    hits_before = sum(registry.hits.values())
    raw = ask(make_proxy(packages_policy(registry)))
    children = trace_of(spans, request_span(spans, raw.headers["x-llmvet-request-id"]))
    lookups = children["llmvet registry lookup"]
    assert sum(s.attributes["llmvet.registry.store_hits"] for s in lookups) == 2
    assert sum(s.attributes["llmvet.registry.fetched"] for s in lookups) == 0
    assert "llmvet registry fetch" not in children and sum(registry.hits.values()) == hits_before
    assert_nothing_secret(spans)


STREAM_POLICY = """
version: 1
name: tracing-stream
rules:
  - name: streamed
    stream: {mode: MODE}
    validators:
      - use: regex
        with: {must_not_match: ["forbidden"], severity: high}
        on_fail: block
      - use: uncertainty
        with: {embeddings: false}
        on_fail: annotate
"""


@pytest.mark.parametrize("mode", ["incremental", "buffer", "passthrough"])
def test_a_streamed_request_span_lasts_until_its_last_byte(spans, fake, make_proxy, mode):
    spans.clear()
    words = " ".join(f"w{i}." for i in range(30))
    fake.reset(lambda body: Reply(text=f"{words} {MARK}", chunk_delay=0.002))
    server = make_proxy(STREAM_POLICY.replace("MODE", mode))
    with client(server).chat.completions.with_streaming_response.create(
        model="gpt-x", messages=[{"role": "user", "content": ASKED}], stream=True
    ) as response:
        request_id = response.headers["x-llmvet-request-id"]
        text = "".join(c.choices[0].delta.content or "" for c in response.parse() if c.choices)
    assert MARK in text
    span = request_span(spans, request_id)
    if mode == "passthrough":  # vetted after the last byte, when the client may have gone: children only
        # both validators' spans, not only the first to end (the checks run after the response)
        children = eventually(lambda: checked_by(trace_of(spans, span)), "uncertainty")["children"]
    else:  # the decision comes from the audit record, once the stream ended (incremental: no header says it)
        assert span.attributes["llmvet.decision"] in ("allow", "annotate")
        assert "llmvet.stream.cut" not in span.attributes
        children = trace_of(spans, span)
    (call,) = children["llmvet upstream"]
    assert call.attributes["llmvet.stream"] is True
    checks = children["llmvet validator"]  # incremental: a clean window is cleared without a check
    assert "uncertainty" in {c.attributes["llmvet.validator"] for c in checks}
    if mode != "passthrough":
        assert span.end_time >= max(c.end_time for c in checks)  # checks after the response began are inside
    assert_nothing_secret(spans)


def test_a_cut_stream_still_ends_its_span(spans, fake, make_proxy):
    spans.clear()
    fake.reset(lambda body: Reply(text=" ".join(f"w{i}." for i in range(200)), chunk_delay=0.01))
    server = make_proxy(STREAM_POLICY.replace("MODE", "incremental"))
    body = {"model": "m", "messages": [{"role": "user", "content": "q"}], "stream": True}
    with httpx.stream("POST", server.url + "/v1/chat/completions", json=body, timeout=30) as r:
        request_id = r.headers["x-llmvet-request-id"]
        next(r.iter_raw())  # the first bytes, then hang up
    ended = eventually(
        lambda: {s.attributes.get("llmvet.request_id"): s for s in spans.get_finished_spans()}, request_id
    )
    span = ended[request_id]
    assert span.attributes.get("llmvet.stream.cut") is True and span.status.is_ok


REVIEW_POLICY = """
version: 1
name: tracing-review
rules:
  - name: reviewed
    validators:
      - use: regex
        with: {must_not_match: ["forbidden"], severity: high}
        on_fail: escalate
    escalate: {mode: MODE, timeout: 0.3, on_timeout: annotate}
"""


@pytest.mark.parametrize(("mode", "outcome"), [("defer", "pending"), ("hold", "timeout")])
def test_a_review_wait_is_a_span_with_its_id_and_outcome(spans, fake, make_proxy, mode, outcome):
    spans.clear()
    fake.reset(lambda body: Reply(text=f"forbidden advice {MARK}"))
    raw = ask(make_proxy(REVIEW_POLICY.replace("MODE", mode)))
    span = request_span(spans, raw.headers["x-llmvet-request-id"])
    (review,) = trace_of(spans, span)["llmvet review"]
    assert review.attributes["llmvet.review.mode"] == mode
    assert review.attributes["llmvet.review.outcome"] == outcome
    assert review.attributes["llmvet.review.id"] == raw.headers["x-llmvet-review-id"]
    assert span.attributes["llmvet.decision"] == raw.headers["x-llmvet-decision"]
    assert_nothing_secret(spans)


SAMPLES_POLICY = """
version: 1
name: tracing-samples
rules:
  - name: sampled
    validators:
      - use: consistency
        with: {samples: 2, semantic_weight: 0, min_answer_chars: 10}
    on_fail: annotate
"""


def test_a_validators_extra_samples_are_upstream_spans_under_its_span(spans, fake, make_proxy):
    spans.clear()
    fake.reset(lambda body: Reply(text=f"Paris is the capital of France, said {MARK}."))
    raw = ask(make_proxy(SAMPLES_POLICY))
    children = trace_of(spans, request_span(spans, raw.headers["x-llmvet-request-id"]))
    (check,) = children["llmvet validator"]
    assert check.attributes["llmvet.validator"] == "consistency"
    samples = [c for c in children["llmvet upstream"] if c.attributes["llmvet.upstream.purpose"] == "samples"]
    assert samples and all(s.parent.span_id == check.context.span_id for s in samples)  # asked by the check
    sent = {r.headers["traceparent"].split("-")[2] for r in fake.requests}  # each call's own span upstream
    assert {f"{s.context.span_id:016x}" for s in samples} <= sent
    assert_nothing_secret(spans)
