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


def _active() -> bool:
    """Whether an OpenTelemetry SDK is set up: without one, spans and context headers would cost
    ~0.1 ms of CPU per request and go nowhere. (An SDK set up later, e.g. by a test, is seen.)"""
    return _tracer is not None and not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


@contextlib.contextmanager
def request_span(headers: Mapping[str, str], route: str, request_id: str) -> Iterator[Any]:
    """A server span for one vetted request, a child of the client's trace context if it sent one."""
    if _tracer is None or not _active():
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
    if _active():
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
