"""A hostile or misconfigured upstream, at the HTTP level: cookies, redirects, odd or malformed headers.

The upstream is a raw loopback server (tests.support.raw_upstream) that writes exactly the bytes a test
scripts and keeps the raw bytes of every request it gets; the client is raw httpx.
"""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.support.raw_upstream import CHAT, RawRequest, RawUpstream, chat_body, http_response

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


@pytest.mark.parametrize("route", sorted(COOKIE_ROUTES))
def test_every_set_cookie_of_the_upstream_reaches_its_client(make_proxy, route):
    """Repeated response headers (Set-Cookie above all: it cannot be folded into one) all go through."""
    got, _ = cookie_exchange(make_proxy, route, 3)
    for n, r in enumerate(got, 1):
        assert r.headers.get_list("set-cookie") == [f"c{i}=client-{n}-secret; Path=/" for i in range(3)]


# ---- redirects -------------------------------------------------------------------------------------------

REDIRECT_ROUTES = {
    "vetted": (None, "POST", "/v1/chat/completions", "307 Temporary Redirect"),
    "vetted-stream": (None, "POST", "/v1/chat/completions", "307 Temporary Redirect"),
    "no-rule": ("rules: []", "POST", "/v1/chat/completions", "308 Permanent Redirect"),
    "pass-through": (None, "GET", "/v1/models", "302 Found"),
    "pass-through-post": (None, "POST", "/v1/embeddings", "307 Temporary Redirect"),
}


@pytest.mark.parametrize("route", sorted(REDIRECT_ROUTES))
def test_upstream_redirects_are_never_followed(make_proxy, route):
    """The body and the Authorization header are never re-sent to wherever the upstream points. On
    routes llmvet does not vet the 3xx goes to the client as it came; a vetted request's is a 502 that
    names it (see the next test)."""
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
    if route.startswith("vetted"):
        assert r.status_code == 502
        err = r.json()["error"]
        assert err["code"] == "upstream_bad_response" and f"{status[:3]} to {location}" in err["message"]
        assert "location" not in r.headers
    else:
        assert r.status_code == int(status[:3])
        assert r.headers["location"] == location


BLOCKING = """
rules:
  - name: vet
    validators: [{use: regex, with: {must_not_match: ["AKIA[0-9A-Z]{16}"]}}]
    on_fail: block
"""
SECRET = "AKIAIOSFODNN7EXAMPLE"


@pytest.mark.parametrize("where", ["pass-through route", "other host"])
def test_a_redirect_cannot_steer_the_sdk_past_the_validators(make_proxy, where):
    """The openai SDK follows redirects. Relayed on a vetted route, the upstream's 307 would send it on
    to an answer no validator reads: on another host, or back through llmvet's own pass-through routes."""
    leak = http_response("200 OK", [("Content-Type", "application/json")], chat_body(f"key {SECRET}"))
    with RawUpstream(lambda r: leak) as elsewhere:
        location = "/v1/files" if where == "pass-through route" else elsewhere.url + "/v1/chat/completions"

        def answer(request: RawRequest) -> bytes:
            if request.request_line.startswith(b"POST /v1/chat/completions "):
                return http_response("307 Temporary Redirect", [("Location", location)], b"")
            return leak

        with RawUpstream(answer) as up:
            proxy = make_proxy(BLOCKING, upstream=up.url + "/v1")
            client = openai.OpenAI(base_url=proxy.url + "/v1", api_key="sk-client", max_retries=0)
            with client, pytest.raises(openai.APIStatusError) as caught:
                client.chat.completions.create(model="m", messages=CHAT["messages"])
        assert [r.request_line.split(b" ")[1] for r in up.requests] == [b"/v1/chat/completions"]
    assert elsewhere.requests == []
    assert caught.value.status_code == 502 and SECRET not in str(caught.value.body)


# ---- headers ----------------------------------------------------------------------------------------------

ODD_VALUES = [
    ("X-Utf8", "\u00e9t\u00e9 \u20ac \U0001f600".encode()),  # UTF-8, beyond latin-1 too
    ("X-Latin1", b"caf\xe9"),
    ("Link", b"<https://a.example/1>; rel=next"),
    ("Link", b"<https://a.example/0>; rel=prev"),
]


@pytest.mark.parametrize("route", sorted(COOKIE_ROUTES))
def test_upstream_header_values_reach_the_client_byte_for_byte(make_proxy, route):
    """Whatever bytes a header value holds, the client gets those bytes (not a 500, not re-encoded)."""
    policy, method, path = COOKIE_ROUTES[route]
    head = b"".join(k.encode() + b": " + v + b"\r\n" for k, v in ODD_VALUES)
    body = chat_body("fine")
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + head + b"Content-Length: %d\r\n\r\n" % len(body)
    with RawUpstream(lambda r: answer + body) as up:
        proxy = make_proxy(policy, upstream=up.url + "/v1")
        r = httpx.request(method, proxy.url + path, json=CHAT if method == "POST" else None, timeout=30)
    assert r.status_code == 200
    got = [(k.lower(), v) for k, v in r.headers.raw if k.lower() in (b"x-utf8", b"x-latin1", b"link")]
    assert got == [(k.lower().encode(), v) for k, v in ODD_VALUES]


MALFORMED_HEADS = {
    "bare-cr": b"X-A: a\rInjected: b\r\n",
    "nul": b"X-A: a\x00b\r\n",
    "too-many": b"".join(b"X-H%d: v\r\n" % i for i in range(200)),
    "too-long": b"X-Big: " + b"v" * 9000 + b"\r\n",
    "two-lengths": b"Content-Length: 1\r\n",
}


@pytest.mark.parametrize("case", sorted(MALFORMED_HEADS))
@pytest.mark.parametrize("route", ["vetted", "pass-through"])
def test_an_upstream_answer_with_malformed_headers_is_a_502(make_proxy, case, route):
    """Headers that do not parse (or are too many or too long) never reach the client: a short 502 that
    says the upstream's answer was malformed (it was reached)."""
    policy, method, path = COOKIE_ROUTES[route]
    body = chat_body("fine")
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + MALFORMED_HEADS[case]
    answer += b"Content-Length: %d\r\n\r\n" % len(body) + body
    with RawUpstream(lambda r: answer) as up:
        proxy = make_proxy(policy, upstream=up.url + "/v1")
        r = httpx.request(method, proxy.url + path, json=CHAT if method == "POST" else None, timeout=30)
    assert r.status_code == 502
    err = r.json()["error"]
    assert err["code"] == "upstream_bad_response" and "malformed HTTP response" in err["message"]
    assert len(err["message"]) < 200
    assert b"injected" not in b"".join(k.lower() for k, _ in r.headers.raw)
