"""`llmvet serve` as a process: the X-Forwarded-For it sends upstream follows LLMVET_TRUSTED_PROXIES
alone. uvicorn trusts loopback peers' forwarding headers by default; left on, a client on the same host
(a sidecar app) could put any address there as its own."""

from __future__ import annotations

import httpx
import pytest

from tests.cli.test_serve_logs import serve, stop
from tests.support.fake_upstream import Reply

ASK = {"model": "m", "messages": [{"role": "user", "content": "q"}]}


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_loopback_client_cannot_name_its_own_address(fake, tmp_path, workers):
    fake.reset(lambda body: Reply(text="fine"))
    proc, port = serve(tmp_path, fake.url + "/v1", "--workers", workers)
    try:
        for path in ("/v1/chat/completions", "/v1/embeddings"):  # vetted, and passed through
            r = httpx.post(f"http://127.0.0.1:{port}{path}", json=ASK, headers={"X-Forwarded-For": "6.6.6.6"})
            assert r.status_code == 200, r.text
            assert fake.requests[-1].headers["x-forwarded-for"] == "127.0.0.1"
            assert "6.6.6.6" not in str(fake.requests[-1].headers)
    finally:
        assert stop(proc) == 0


def test_a_trusted_proxy_entry_is_kept(fake, tmp_path):
    fake.reset(lambda body: Reply(text="fine"))
    proc, port = serve(tmp_path, fake.url + "/v1", env={"LLMVET_TRUSTED_PROXIES": "1"})
    try:
        r = httpx.post(
            f"http://127.0.0.1:{port}/v1/chat/completions", json=ASK, headers={"X-Forwarded-For": "6.6.6.6, 10.1.2.3"}
        )
        assert r.status_code == 200, r.text
        assert fake.requests[-1].headers["x-forwarded-for"] == "10.1.2.3, 127.0.0.1"
    finally:
        assert stop(proc) == 0
