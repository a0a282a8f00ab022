"""A hostile or misconfigured upstream: cookies, redirects, huge or compressed answers, odd framing.

The upstream here is a raw loopback server (tests.support.raw_upstream) that writes exactly the bytes a
test scripts and keeps the raw bytes of every request it gets; the client is the openai SDK or raw httpx.
"""

from __future__ import annotations

import httpx
import openai
import orjson
import pytest

from tests.support.raw_upstream import RawRequest, RawUpstream, http_response

BLOCKING = """
rules:
  - name: vet
    validators: [{use: regex, with: {must_not_match: ["AKIA[0-9A-Z]{16}"]}}]
    on_fail: block
"""
SECRET = "AKIAIOSFODNN7EXAMPLE"  # an AWS key id: the default policy's regex flags it
CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def chat_body(text: str) -> bytes:
    return orjson.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
        }
    )


def chunk(text: str | None, finish: str | None = None) -> bytes:
    delta = {"content": text} if text is not None else {}
    return orjson.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
    )


def sdk(proxy) -> openai.OpenAI:
    return openai.OpenAI(base_url=proxy.url + "/v1", api_key="sk-client", max_retries=0)


# ---- cookies -------------------------------------------------------------------------------------------

COOKIE_ROUTES = {
    "vetted": (None, "POST", "/v1/chat/completions"),
    "no-rule": ("rules: []", "POST", "/v1/chat/completions"),
    "pass-through": (None, "GET", "/v1/models"),
}


def cookie_exchange(make_proxy, route: str, cookies_per_answer: int) -> tuple[list[httpx.Response], RawUpstream]:
    """Two clients, one after the other, on `route`; the upstream sets cookies on each answer."""
    policy, method, path = COOKIE_ROUTES[route]

    def answer(request: RawRequest) -> bytes:
        n = len(up.requests)
        cookies = [("Set-Cookie", f"c{i}=client-{n}-secret; Path=/") for i in range(cookies_per_answer)]
        body = chat_body("fine") if method == "POST" else b'{"object": "list", "data": []}'
        return http_response("200 OK", [("Content-Type", "application/json"), *cookies], body)

    with RawUpstream(answer) as up:
        # By name: aiohttp's default cookie jar ignores cookies from IP addresses, not from host names.
        proxy = make_proxy(policy, upstream=f"http://localhost:{up.port}/v1")
        got = [
            httpx.request(method, proxy.url + path, json=CHAT if method == "POST" else None, timeout=30)
            for _ in range(2)
        ]
    assert [r.status_code for r in got] == [200, 200]
    assert len(up.requests) == 2
    return got, up


@pytest.mark.parametrize("route", sorted(COOKIE_ROUTES))
def test_upstream_cookies_are_never_sent_back_upstream(make_proxy, route):
    """Set-Cookie in the answer to client A is never replayed upstream with client B's request: a
    proxy keeps no cookie state (llmvet drops the clients' own Cookie headers too)."""
    got, up = cookie_exchange(make_proxy, route, 1)
    assert got[0].headers.get_list("set-cookie") == ["c0=client-1-secret; Path=/"]
    assert [r.header("cookie") for r in up.requests] == [[], []]
    assert b"client-1-secret" not in up.requests[1].head


# ---- redirects -------------------------------------------------------------------------------------------

REDIRECT_ROUTES = {
    "vetted": (None, "POST", "/v1/chat/completions", "307 Temporary Redirect"),
    "vetted-stream": (None, "POST", "/v1/chat/completions", "307 Temporary Redirect"),
    "no-rule": ("rules: []", "POST", "/v1/chat/completions", "308 Permanent Redirect"),
    "pass-through": (None, "GET", "/v1/models", "302 Found"),
    "pass-through-post": (None, "POST", "/v1/embeddings", "307 Temporary Redirect"),
}


@pytest.mark.parametrize("route", sorted(REDIRECT_ROUTES))
def test_upstream_redirects_are_relayed_not_followed(make_proxy, route):
    """A 3xx goes to the client as it came; the body and the Authorization header are never re-sent to
    wherever the upstream points."""
    policy, method, path, status = REDIRECT_ROUTES[route]
    with RawUpstream(
        lambda r: http_response("200 OK", [("Content-Type", "application/json")], chat_body("x"))
    ) as elsewhere:
        location = elsewhere.url + path
        redirect = http_response(status, [("Location", location), ("Content-Type", "text/plain")], b"moved")
        with RawUpstream(lambda r: redirect) as up:
            proxy = make_proxy(policy, upstream=up.url + "/v1")
            body = {**CHAT, "stream": route == "vetted-stream"} if method == "POST" else None
            r = httpx.request(
                method, proxy.url + path, json=body, headers={"Authorization": "Bearer sk-client"}, timeout=30
            )
        assert len(up.requests) == 1
    assert elsewhere.requests == []
    assert r.status_code == int(status[:3])
    assert r.headers["location"] == location
