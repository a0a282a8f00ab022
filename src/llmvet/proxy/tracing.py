"""OpenTelemetry spans for vetted requests, through the OpenTelemetry API only.

llmvet configures no exporter: run it under `opentelemetry-instrument`, or with any OpenTelemetry SDK set
up in the process, and its spans go where that SDK sends them. Without an SDK the API's no-op tracer
costs next to nothing; without the API installed (the `tracing` extra) nothing here runs at all.
The client's W3C trace context (`traceparent`, `tracestate`) is continued, and the upstream sees
llmvet's span as its parent. Spans carry the request id, route, rule, decision and status: never API
keys or answer text.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

from starlette.responses import Response

try:
    from opentelemetry import propagate, trace
except ModuleNotFoundError:  # the `tracing` extra is not installed
    trace = None  # type: ignore[assignment]

_tracer = trace.get_tracer("llmvet") if trace is not None else None


@contextlib.contextmanager
def request_span(headers: Mapping[str, str], route: str, request_id: str) -> Iterator[Any]:
    """A server span for one vetted request, a child of the client's trace context if it sent one."""
    if _tracer is None:
        yield None
        return
    parent = propagate.extract(headers)
    attributes = {"llmvet.request_id": request_id, "llmvet.route": route}
    with _tracer.start_as_current_span(
        f"llmvet {route}", context=parent, kind=trace.SpanKind.SERVER, attributes=attributes
    ) as span:
        yield span


def inject_context(headers: MutableMapping[str, str]) -> None:
    """Put the current span's trace context on the upstream request (replacing the client's)."""
    if _tracer is not None:
        propagate.inject(headers)


def annotate_span(span: Any, response: Response) -> None:
    """The outcome on the span: HTTP status, and llmvet's decision and rule from its own headers."""
    if span is None:
        return
    span.set_attribute("http.response.status_code", response.status_code)
    for header, attribute in (("x-llmvet-decision", "llmvet.decision"), ("x-llmvet-rule", "llmvet.rule")):
        value = response.headers.get(header)
        if value:
            span.set_attribute(attribute, value)
    if response.status_code >= 500:
        span.set_status(trace.Status(trace.StatusCode.ERROR))
