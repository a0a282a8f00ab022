"""The OTLP span exporter (the `otlp` extra), set up from the standard OTEL_* variables.

llmvet starts an exporter only when those variables ask for one (an OTLP endpoint, or
OTEL_TRACES_EXPORTER=otlp) and no OpenTelemetry SDK is set up in the process already (e.g. by
`opentelemetry-instrument`, whose choice wins). Everything else (endpoint, headers, timeout,
compression, sampler, batch sizes, service name and resource attributes) is read by the SDK and the
exporter themselves, as their documentation says. OTLP over HTTP/protobuf only: one dependency, and
every collector accepts it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from llmvet import spans

log = logging.getLogger("llmvet.tracing")
INSTALL_HINT = "pip install 'llmvet[otlp]'"


def wanted(environ: Mapping[str, str]) -> bool:
    """Whether the OTEL_* variables ask for OTLP trace export."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = environ.get("OTEL_TRACES_EXPORTER")
    if exporters is not None:
        return "otlp" in {e.strip().lower() for e in exporters.split(",")}
    return bool(environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def _protocol(environ: Mapping[str, str]) -> str:
    return (
        environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()


def setup_otlp(environ: Mapping[str, str] | None = None) -> bool:
    """Set up the SDK with a batching OTLP exporter if the environment asks for it; True if it did."""
    env = os.environ if environ is None else environ
    if not wanted(env):
        return False
    if spans.active():
        log.info("an OpenTelemetry SDK is already set up: llmvet's spans go to its exporters")
        return False
    try:
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ModuleNotFoundError as exc:
        log.warning("OTEL_* variables ask for OTLP trace export, but %s is missing: %s", exc.name, INSTALL_HINT)
        return False
    if _protocol(env) != "http/protobuf":
        log.warning("OTLP protocol %r is not supported: llmvet exports over http/protobuf", _protocol(env))
        return False
    named = env.get("OTEL_SERVICE_NAME") or "service.name=" in env.get("OTEL_RESOURCE_ATTRIBUTES", "")
    provider = TracerProvider(resource=Resource.create({} if named else {"service.name": "llmvet"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))  # flushed at exit by the provider
    trace.set_tracer_provider(provider)
    log.info("exporting spans over OTLP (http/protobuf)")
    return True
