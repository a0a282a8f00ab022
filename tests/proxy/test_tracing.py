"""OpenTelemetry spans of vetted requests, read from an in-memory exporter: the client's W3C trace
context is continued, the upstream gets llmvet's span as parent, and spans carry the request id and
decision but no key or answer text."""

from __future__ import annotations

import openai
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

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
KEY = "sk-trace-secret-key"


@pytest.fixture(scope="module")
def spans():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)  # once per process; llmvet's proxy tracer delegates to it
    return exporter


def test_client_trace_is_continued_and_propagated_upstream(spans, fake, make_proxy):
    spans.clear()
    fake.reset(lambda body: Reply(text="A fine answer."))
    server = make_proxy(POLICY)
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=KEY, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-x",
        messages=[{"role": "user", "content": "hi"}],
        extra_headers={"traceparent": f"00-{TRACE_ID}-{CLIENT_SPAN}-01"},
    )
    (span,) = [s for s in spans.get_finished_spans() if s.name == "llmvet chat.completions"]
    assert f"{span.context.trace_id:032x}" == TRACE_ID  # the client's trace, continued
    assert f"{span.parent.span_id:016x}" == CLIENT_SPAN
    assert span.attributes["llmvet.request_id"] == raw.headers["x-llmvet-request-id"]
    assert span.attributes["llmvet.decision"] == "allow" and span.attributes["llmvet.rule"] == "vetted"
    assert span.attributes["http.response.status_code"] == 200
    sent = fake.requests[-1].headers["traceparent"]  # the upstream's parent is llmvet's span
    assert sent == f"00-{TRACE_ID}-{span.context.span_id:016x}-01"
    values = " ".join(str(v) for v in span.attributes.values())
    assert KEY not in values and "A fine answer" not in values


def test_a_blocked_answer_is_a_span_with_its_decision(spans, fake, make_proxy):
    spans.clear()
    fake.reset(lambda body: Reply(text="this is forbidden text"))
    server = make_proxy(POLICY)
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=KEY, max_retries=0)
    with pytest.raises(openai.UnprocessableEntityError):
        client.chat.completions.create(model="gpt-x", messages=[{"role": "user", "content": "hi"}])
    (span,) = [s for s in spans.get_finished_spans() if s.name == "llmvet chat.completions"]
    assert span.parent is None  # no trace context from the client: a new trace
    assert span.attributes["llmvet.decision"] == "block" and span.attributes["http.response.status_code"] == 422
    assert "forbidden" not in " ".join(str(v) for v in span.attributes.values())
