"""`llmvet serve` stops promptly on SIGTERM while an embedding model is still loading from a model hub
that cannot be reached (the hub client retries for about a minute): the load must not hold up the exit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.embeddings import needs_embeddings
from tests.support.servers import free_port, wait_port

ROOT = Path(__file__).resolve().parents[2]


@needs_embeddings
@pytest.mark.timeout(90)
def test_sigterm_exits_promptly_while_the_model_load_retries_an_unreachable_hub(fake, tmp_path):
    port, hub = free_port(), free_port()  # nothing listens on `hub`: every hub request is refused
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "LLMVET_EMBEDDING_MODEL")}
    env |= {"HF_HOME": str(tmp_path / "hf"), "HF_ENDPOINT": f"http://127.0.0.1:{hub}", "LLMVET_LOG_LEVEL": "info"}
    command = [sys.executable, "-c", "import sys; from llmvet.cli import main; sys.exit(main())", "serve"]
    command += ["--upstream", fake.url + "/v1", "--policy", str(ROOT / "policies" / "coding-assistant.yaml")]
    command += ["--port", str(port), "--store", f"sqlite:///{tmp_path / 'llmvet.db'}"]
    log = tmp_path / "serve.log"
    proc = subprocess.Popen(command, env=env, stderr=open(log, "wb"), stdout=subprocess.DEVNULL)  # noqa: SIM115
    try:
        wait_port(port, 30)
        warming = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).json()
        assert warming["validators"] == "warming"  # the model load is under way (and cannot finish)
        time.sleep(1.0)  # into the hub client's retries
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
        took = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0, log.read_text()[-2000:]
    assert took < 5, f"exit took {took:.1f}s"
