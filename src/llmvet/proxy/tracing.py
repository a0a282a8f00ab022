"""OpenTelemetry spans for vetted requests, through the OpenTelemetry API only (see llmvet.spans).

llmvet exports nothing itself unless the `otlp` extra is installed and OTEL_* variables ask for it
(proxy/otlp.py); otherwise run it under `opentelemetry-instrument`, or with any OpenTelemetry SDK set
up in the process. Without an SDK nothing here starts a span or touches a header.
The client's W3C trace context (`traceparent`, `tracestate`) is continued, and the upstream sees
llmvet's upstream-call span as its parent. A streamed response's request span ends with its last byte,
so the checks that run while it streams are its children. Spans carry the request id, route, rule,
decision and status: never API keys or answer text.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Iterator, Mapping, MutableMapping
from typing import Any

from starlette.responses import Response, StreamingResponse

from llmvet import spans

# x-llmvet-decision values that are not a decision yet: a stream's real one comes from its audit record.
NOT_FINAL = frozenset({"pending", "incremental"})


def start_request(headers: Mapping[str, str], route: str, request_id: str) -> Any:
    """A server span for one vetted request, a child of the client's trace context if it sent one
    (None when tracing is off). It is ended by `finish`."""
    if not spans.active():  # no SDK: not even the name and attributes are built
        return None
    return spans.start_server_span(f"llmvet {route}", headers, {"llmvet.request_id": request_id, "llmvet.route": route})


current = spans.use  # make the request span current (its children nest under it); it stays open


def finish(span: Any, response: Response) -> Response:
    """The outcome on the span, which ends now, or with the last byte of a streamed response."""
    annotate_span(span, response)
    if isinstance(response, StreamingResponse):
        response.body_iterator = _until_sent(response.body_iterator, span)
    else:
        span.end()
    return response


def abandon(span: Any, exc: BaseException) -> None:
    """The request failed with an exception nobody turned into a response."""
    spans.failed(span, exc)
    span.end()


async def _until_sent(chunks: AsyncIterable[Any], span: Any) -> AsyncIterator[Any]:
    """The body, each chunk produced under the request span; the span ends when the body does."""
    iterator = aiter(chunks)
    try:
        while True:
            with current(span):
                try:
                    chunk = await anext(iterator)
                except StopAsyncIteration:
                    return
            yield chunk
    except (GeneratorExit, asyncio.CancelledError):  # the client went away before the body's end
        span.set_attribute("llmvet.stream.cut", True)
        raise
    except BaseException as exc:
        spans.failed(span, exc)
        raise
    finally:
        span.end()
        close = getattr(iterator, "aclose", None)
        if close is not None:
            with contextlib.suppress(Exception):
                await close()  # its own cleanup (the upstream response) runs now, not at garbage collection


def inject_context(headers: MutableMapping[str, str]) -> None:
    """Put the current span's trace context on the upstream request (replacing the client's)."""
    spans.inject(headers)


def upstream_call(
    headers: MutableMapping[str, str], purpose: str, stream: bool = False
) -> contextlib.AbstractContextManager[Any]:
    """A client span for one upstream request, whose context goes upstream in `headers`. `purpose`:
    answer, reask, samples (a validator's extra answers) or forward (an unvetted rule). A buffered
    call's span covers the whole answer; one relayed as it streams ends with the response headers
    (the stream's length is the request span's). Outside a trace: the shared no-op context (no
    generator-based context manager built per request)."""
    if not spans.in_trace():
        return spans.OFF
    return _upstream_span(headers, purpose, stream)


@contextlib.contextmanager
def _upstream_span(headers: MutableMapping[str, str], purpose: str, stream: bool) -> Iterator[Any]:
    attributes: dict[str, spans.AttributeValue] = {"llmvet.upstream.purpose": purpose, "llmvet.stream": stream}
    with spans.span("llmvet upstream", attributes, client=True) as call:
        spans.inject(headers)
        yield call


def upstream_status(call: Any, status: int) -> None:
    if call is not None:
        call.set_attribute("http.response.status_code", status)
        if status >= 500:
            spans.set_error(call)


def annotate_span(span: Any, response: Response) -> None:
    """The outcome on the span: HTTP status, and llmvet's decision and rule from its own headers."""
    if span is None:
        return
    span.set_attribute("http.response.status_code", response.status_code)
    decision = response.headers.get("x-llmvet-decision")
    if decision and decision not in NOT_FINAL:
        span.set_attribute("llmvet.decision", decision)
    rule = response.headers.get("x-llmvet-rule")
    if rule:
        span.set_attribute("llmvet.rule", rule)
    if response.status_code >= 500:
        spans.set_error(span)
