"""No Docker engine here, so run what the image runs: its CMD, with its ENV, and its health check."""

import json
import os
import re
import signal
import subprocess
from pathlib import Path

from tests.support.servers import free_port, wait_port

DOCKERFILE = (Path(__file__).parent.parent / "Dockerfile").read_text()


def _instruction(name: str) -> str:
    text = DOCKERFILE.replace("\\\n", " ")
    return [line[len(name) + 1 :].strip() for line in text.splitlines() if line.startswith(name + " ")][-1]


def test_image_runs_as_non_root_on_a_slim_base():
    assert re.search(r"^FROM python:3\.\d+-slim", DOCKERFILE, re.M)
    assert _instruction("USER") == "llmvet"


def test_the_image_command_serves_and_passes_its_healthcheck(fake, tmp_path):
    cmd = json.loads(_instruction("CMD"))
    env_line = _instruction("ENV").split()
    env = dict(pair.split("=", 1) for pair in env_line if "=" in pair)
    port = free_port()
    env |= {"LLMVET_PORT": str(port), "LLMVET_HOST": "127.0.0.1", "LLMVET_UPSTREAM": fake.url + "/v1"}
    assert cmd == ["llmvet", "serve"]
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_port(port, 30)
        health = json.loads(_instruction("HEALTHCHECK").split("CMD", 1)[1].strip())
        health = [part.replace("8080", str(port)) for part in health]
        assert subprocess.run(health, timeout=10).returncode == 0
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(15)
