"""`llmvet serve --log-format json`: a real server process, every stderr line parsed as one JSON object,
llmvet's and uvicorn's (access lines included) alike, each request's lines carrying its request id."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.support.fake_upstream import Reply
from tests.support.servers import free_port, wait_port

POLICY = """
version: 1
name: json-logs
rules:
  - name: vetted
    validators:
      - use: regex
        with: {must_not_match: ["forbidden"], severity: high}
        on_fail: block
"""


def serve(tmp_path: Path, upstream: str, *args: str, env: dict[str, str] | None = None) -> tuple[Any, int]:
    (tmp_path / "policy.yaml").write_text(POLICY)
    port = free_port()
    command = [sys.executable, "-c", "import sys; from llmvet.cli import main; sys.exit(main())", "serve"]
    command += ["--upstream", upstream, "--policy", str(tmp_path / "policy.yaml"), "--port", str(port)]
    command += ["--store", f"sqlite:///{tmp_path / 'llmvet.db'}", *args]
    proc = subprocess.Popen(
        command,
        env={**os.environ, **(env or {})},
        stdout=open(tmp_path / "stdout", "wb"),  # noqa: SIM115  # closed with the process
        stderr=open(tmp_path / "stderr", "wb"),  # noqa: SIM115
    )
    wait_port(port, 30)
    return proc, port


def stop(proc: Any) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(30)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_json_logs_are_one_object_per_line_with_request_ids(fake, tmp_path, workers):
    fake.reset(lambda body: Reply(text="this is forbidden" if "bad" in str(body) else "fine"))
    proc, port = serve(tmp_path, fake.url + "/v1", "--log-format", "json", "--access-log", "--workers", workers)
    try:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-log-key", max_retries=0)
        ok = client.chat.completions.with_raw_response.create(model="m", messages=[{"role": "user", "content": "hi"}])
        with pytest.raises(openai.UnprocessableEntityError) as blocked:
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "bad"}])
        assert "traceparent" not in fake.requests[-1].headers  # no OpenTelemetry SDK: no trace headers
    finally:
        assert stop(proc) == 0
    lines = (tmp_path / "stderr").read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line, or this raises
    assert len(records) >= 5 and all(isinstance(r, dict) for r in records)
    for r in records:
        assert {"timestamp", "level", "logger", "message", "request_id"} <= r.keys()
        assert r["timestamp"].startswith("20") and r["level"] in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
    loggers = {r["logger"] for r in records}
    assert {"llmvet.proxy", "uvicorn.error", "uvicorn.access"} <= loggers
    assert any(r["message"].startswith("llmvet ready") for r in records)
    access = [r for r in records if r["logger"] == "uvicorn.access"]
    by_id = {r["request_id"]: r for r in access}
    ids = (ok.headers["x-llmvet-request-id"], blocked.value.response.headers["x-llmvet-request-id"])
    assert by_id[ids[0]]["http"] == {
        "client": by_id[ids[0]]["http"]["client"],
        "method": "POST",
        "path": "/v1/chat/completions",
        "status": 200,
    }
    assert by_id[ids[1]]["http"]["status"] == 422
    assert all("sk-log-key" not in line for line in lines)
    assert (tmp_path / "stdout").read_text() == ""  # nothing on stdout: access lines go to stderr too


def test_text_logs_stay_the_default(fake, tmp_path):
    proc, _port = serve(tmp_path, fake.url + "/v1")
    assert stop(proc) == 0
    lines = (tmp_path / "stderr").read_text().splitlines()
    ready = [line for line in lines if "llmvet ready" in line]
    assert ready and " INFO llmvet.proxy: llmvet ready" in ready[0]
    assert any(line.startswith("INFO:") and "Uvicorn running" in line for line in lines)
    with pytest.raises(json.JSONDecodeError):
        json.loads(ready[0])
