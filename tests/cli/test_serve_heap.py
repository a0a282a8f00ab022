"""`llmvet serve` exempts its start-up objects from garbage collection once warm (full collections then
stay short) and collects the young generation less often; an app built inside another program leaves
that program's heap alone."""

from __future__ import annotations

import gc
import time

import httpx

from tests.cli.test_serve_logs import serve, stop


def test_serve_freezes_its_start_up_objects(fake, tmp_path):
    proc, port = serve(tmp_path, fake.url + "/v1", env={"LLMVET_LOG_LEVEL": "info"})
    try:
        deadline = time.monotonic() + 20
        while b"exempt from garbage collection" not in (tmp_path / "stderr").read_bytes():
            assert time.monotonic() < deadline, (tmp_path / "stderr").read_text()[-2000:]
            time.sleep(0.1)
        line = next(x for x in (tmp_path / "stderr").read_text().splitlines() if "exempt from garbage" in x)
        assert int(line.split("start-up done: ")[1].split()[0]) > 10_000  # modules, policy, validators
        assert int(line.rsplit("threshold ", 1)[1].split()[0]) >= 10_000  # Python's default is 700
        r = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json={"model": "m", "messages": []})
        assert r.status_code == 200
    finally:
        stop(proc)


def test_an_app_built_in_process_does_not_freeze_the_host(make_proxy):
    before, threshold = gc.get_freeze_count(), gc.get_threshold()
    proxy = make_proxy()
    deadline = time.monotonic() + 10
    while (status := httpx.get(proxy.url + "/readyz").json()["status"]) != "ready" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert status == "ready" and gc.get_freeze_count() == before  # warm, and nothing frozen
    assert gc.get_threshold() == threshold
