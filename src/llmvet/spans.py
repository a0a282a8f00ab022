"""The tracing facade every layer may use: OpenTelemetry spans when an SDK is set up, nothing otherwise.

Validators, the policy engine and registry lookups sit below the proxy and cannot import it, so the one
place that knows about OpenTelemetry is this leaf. Without the API installed (the `tracing` extra), or
with the API but no SDK tracer provider, `span()` hands back one shared no-op context manager: the hot
path pays a function call and a type check. With an SDK, spans nest under the current one (the request
span the proxy starts) through the usual context.

What goes in attributes is the caller's care: names, codes, counts, outcomes; never API keys, prompt or
answer text. Exceptions mark a span as failed with their type only (their messages may quote an answer).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any, TypeAlias

try:
    from opentelemetry import propagate, trace
except ModuleNotFoundError:  # the `tracing` extra is not installed
    trace = None  # type: ignore[assignment]

AttributeValue: TypeAlias = str | bool | int | float | list[str]

_tracer = trace.get_tracer("llmvet") if trace is not None else None


class _Off:
    """The span context when tracing is off: enters as None, costs nothing."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


OFF = _Off()


_seen = False  # a provider is set: it stays (OpenTelemetry sets the global one once)
_looked = False  # the public getter ran once (it reads OTEL_PYTHON_TRACER_PROVIDER from the environment)


def active() -> bool:
    """Whether an OpenTelemetry SDK is set up (seen even when it is set up later, e.g. by a test). Without
    one, spans would cost CPU per request and go nowhere. Until one is, only the API's module global is
    read: the public getter looks the environment up on every call (five calls per request)."""
    global _seen, _looked
    if _seen:
        return True
    if _tracer is None:
        return False
    if _looked and getattr(trace, "_TRACER_PROVIDER", True) is None:
        return False  # still none set (were the name gone from the API, the getter below decides)
    _looked = True
    _seen = not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    return _seen


def in_trace() -> bool:
    """Whether a recording span is current: parts used outside requests too (the upstream client under
    pass-through routes) start spans only inside one."""
    return active() and trace.get_current_span().is_recording()


def span(
    name: str, attributes: Mapping[str, AttributeValue] | None = None, *, client: bool = False
) -> contextlib.AbstractContextManager[Any]:
    """A child span of the current one (None inside the `with` when tracing is off); `client` for calls
    to another service (the upstream, a registry)."""
    if _tracer is None or not active():
        return OFF
    return _live(name, attributes, trace.SpanKind.CLIENT if client else trace.SpanKind.INTERNAL)


@contextlib.contextmanager
def _live(name: str, attributes: Mapping[str, AttributeValue] | None, kind: Any) -> Iterator[Any]:
    assert _tracer is not None
    with _tracer.start_as_current_span(
        name, kind=kind, attributes=attributes, record_exception=False, set_status_on_exception=False
    ) as current:
        try:
            yield current
        except BaseException as exc:
            failed(current, exc)
            raise


def start_server_span(name: str, carrier: Mapping[str, str], attributes: Mapping[str, AttributeValue]) -> Any:
    """A server span that is not current yet, a child of the W3C trace context in `carrier` (a request's
    headers) if there is one; None when tracing is off. The caller ends it."""
    if _tracer is None or not active():
        return None
    parent = propagate.extract(carrier)
    return _tracer.start_span(name, context=parent, kind=trace.SpanKind.SERVER, attributes=attributes)


def use(started: Any) -> contextlib.AbstractContextManager[Any]:
    """Make a started span the current one (its children nest under it); it stays open on exit."""
    if started is None:
        return OFF
    return trace.use_span(started, end_on_exit=False, record_exception=False, set_status_on_exception=False)


def inject(carrier: MutableMapping[str, str]) -> None:
    """The current span's W3C trace context into outgoing headers (replacing any already there)."""
    if active():
        propagate.inject(carrier)


def set_error(current: Any) -> None:
    current.set_status(trace.Status(trace.StatusCode.ERROR))


def failed(current: Any, exc: BaseException) -> None:
    """Mark a span as failed by the exception's type alone."""
    current.set_attribute("error.type", type(exc).__qualname__)
    current.set_status(trace.Status(trace.StatusCode.ERROR, type(exc).__qualname__))


def set_current(attributes: Mapping[str, AttributeValue]) -> None:
    """Attributes on the current span (e.g. the request span's final decision), if one is recording."""
    if _tracer is not None and active():
        current = trace.get_current_span()
        if current.is_recording():
            current.set_attributes(attributes)
