"""The `otlp` extra: a real `llmvet serve` process, configured only by OTEL_* variables, exports its spans
over OTLP/HTTP to a loopback collector; the bytes it sends hold no API key, prompt or answer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import openai
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from llmvet.proxy.otlp import wanted
from tests.support.fake_upstream import Reply
from tests.support.servers import ThreadedServer, free_port, wait_port

POLICY = """
version: 1
name: otlp-test
rules:
  - name: vetted
    validators:
      - use: regex
        with: {must_not_match: ["forbidden"], severity: high}
        on_fail: block
"""
KEY = "sk-otlp-secret-key-2718"
MARK = "QUOKKA-ANSWER-MARK-5521"
ASKED = "NARWHAL-PROMPT-MARK-8812"


class Collector:
    """A loopback OTLP/HTTP trace receiver: keeps every export request's raw body."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.lock = threading.Lock()
        self.app = Starlette(routes=[Route("/v1/traces", self.traces, methods=["POST"])])

    async def traces(self, request: Request) -> Response:
        body = await request.body()
        with self.lock:
            self.bodies.append(body)
        return Response(b"", media_type="application/x-protobuf")

    def spans(self) -> list[tuple[str, object]]:
        """(service.name, span) of everything received."""
        out = []
        for body in self.bodies:
            export = ExportTraceServiceRequest.FromString(body)
            for rs in export.resource_spans:
                service = next(a.value.string_value for a in rs.resource.attributes if a.key == "service.name")
                out += [(service, span) for ss in rs.scope_spans for span in ss.spans]
        return out


def attributes(span: object) -> dict[str, object]:
    out: dict[str, object] = {}
    for a in span.attributes:  # type: ignore[attr-defined]
        kind = a.value.WhichOneof("value")
        out[a.key] = (
            getattr(a.value, kind) if kind != "array_value" else [v.string_value for v in a.value.array_value.values]
        )
    return out


@pytest.mark.parametrize("env", [{"OTEL_EXPORTER_OTLP_ENDPOINT": "x"}, {"OTEL_TRACES_EXPORTER": "console,otlp"}])
def test_the_environment_asks_for_otlp(env):
    assert wanted(env)


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "x", "OTEL_TRACES_EXPORTER": "none"},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "x", "OTEL_SDK_DISABLED": "true"},
    ],
)
def test_no_otlp_unless_asked(env):
    assert not wanted(env)


def test_serve_exports_spans_over_otlp(fake, tmp_path: Path):
    collector = Collector()
    fake.reset(lambda body: Reply(text=f"An answer {MARK}."))
    (tmp_path / "policy.yaml").write_text(POLICY)
    port = free_port()
    with ThreadedServer(collector.app) as receiver:
        env = {
            **os.environ,
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
            "OTEL_SERVICE_NAME": "llmvet-otlp-test",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        }
        command = [sys.executable, "-c", "import sys; from llmvet.cli import main; sys.exit(main())", "serve"]
        command += ["--upstream", fake.url + "/v1", "--policy", str(tmp_path / "policy.yaml"), "--port", str(port)]
        command += ["--store", f"sqlite:///{tmp_path / 'llmvet.db'}"]
        proc = subprocess.Popen(command, env=env, stderr=open(tmp_path / "stderr", "wb"))  # noqa: SIM115
        try:
            wait_port(port, 30)
            client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY, max_retries=0)
            raw = client.chat.completions.with_raw_response.create(
                model="m", messages=[{"role": "user", "content": ASKED}]
            )
            deadline = time.monotonic() + 10
            while len(collector.spans()) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
    found = collector.spans()
    assert {service for service, _ in found} == {"llmvet-otlp-test"}
    by_name = {span.name: span for _, span in found}  # type: ignore[attr-defined]
    assert {"llmvet chat.completions", "llmvet upstream", "llmvet validator"} <= by_name.keys()
    request = by_name["llmvet chat.completions"]
    assert attributes(request)["llmvet.request_id"] == raw.headers["x-llmvet-request-id"]
    assert attributes(request)["llmvet.decision"] == "allow"
    upstream = by_name["llmvet upstream"]
    sent = fake.requests[-1].headers["traceparent"]
    assert sent.split("-")[1:3] == [upstream.trace_id.hex(), upstream.span_id.hex()]  # then the flags
    assert upstream.parent_span_id == request.span_id
    everything = b"".join(collector.bodies)  # the raw bytes on the wire
    for secret in (KEY, MARK, ASKED):
        assert secret.encode() not in everything
