"""Bad input and faults: each ends in a clear OpenAI-shaped error, never a hang or a traceback."""

import asyncio
import logging
import socket
import time

import httpx
import openai
import orjson
import pytest

from tests.support.fake_upstream import Reply
from tests.support.servers import free_port

BLOCKING = """
rules:
  - name: vet
    validators: [{use: regex, with: {must_not_match: ["SECRET"]}}]
    on_fail: block
"""


def post(proxy, body, **kw):
    return httpx.post(
        proxy.url + "/v1/chat/completions",
        timeout=30,
        **kw,
        **({"content": body} if isinstance(body, (bytes, str)) else {"json": body}),
    )


def assert_openai_error(r, status):
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "code", "param"} and err["message"]
    return err


def test_malformed_json_is_400(make_proxy):
    err = assert_openai_error(post(make_proxy(), b"{not json", headers={"content-type": "application/json"}), 400)
    assert err["type"] == "invalid_request_error"


def test_missing_model_is_400_naming_the_param(make_proxy):
    err = assert_openai_error(post(make_proxy(), {"messages": []}), 400)
    assert err["param"] == "model"


def test_non_object_body_is_400(make_proxy):
    assert_openai_error(post(make_proxy(), b"[1,2]"), 400)


def test_body_over_the_limit_is_413(fake, make_proxy):
    proxy = make_proxy(max_body_bytes=2048)
    big = {"model": "m", "messages": [{"role": "user", "content": "x" * 5000}]}
    err = assert_openai_error(post(proxy, big), 413)
    assert err["code"] == "body_too_large"
    assert fake.requests == []  # nothing reached the upstream

    def chunked():
        yield b'{"model": "m", "messages": [{"role": "user", "content": "'
        yield b"y" * 4000
        yield b'"}]}'

    assert_openai_error(httpx.post(proxy.url + "/v1/chat/completions", content=chunked()), 413)


def test_upstream_refusing_connections_is_502(make_proxy):
    proxy = make_proxy(upstream=f"http://127.0.0.1:{free_port()}/v1")
    err = assert_openai_error(post(proxy, {"model": "m", "messages": []}), 502)
    assert err["code"] == "upstream_unreachable"
    client = openai.OpenAI(base_url=proxy.url + "/v1", api_key="k", max_retries=0)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])


def test_upstream_timeout_is_504(fake, make_proxy):
    fake.reset(lambda b: Reply(delay=3))
    proxy = make_proxy(BLOCKING, upstream_read_timeout=0.5)
    err = assert_openai_error(post(proxy, {"model": "m", "messages": []}), 504)
    assert err["code"] == "upstream_timeout"


@pytest.mark.parametrize("policy", [None, BLOCKING], ids=["no-rule", "vetted"])
@pytest.mark.parametrize("status", [400, 429, 500, 503])
def test_upstream_errors_pass_through_with_their_body(fake, make_proxy, policy, status):
    upstream_error = {"error": {"message": f"upstream says {status}", "type": "x", "code": "y", "param": None}}
    fake.reset(lambda b: Reply(status=status, error=upstream_error))
    r = post(make_proxy(policy), {"model": "m", "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == status
    assert r.json() == upstream_error


def test_stream_cut_half_way_is_a_clean_502(fake, make_proxy):
    fake.reset(lambda b: Reply(text="a long answer " * 20, cut_after=4))
    proxy = make_proxy(BLOCKING + "    stream: {mode: buffer}\n")
    r = post(proxy, {"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]})
    err = assert_openai_error(r, 502)
    assert err["code"] == "upstream_bad_response"


@pytest.mark.parametrize("mode", ["incremental", "passthrough"])
def test_stream_cut_after_text_ends_with_an_error_event(fake, make_proxy, mode):
    """Text already went out, so no status can change: the stream ends cleanly and says why."""
    fake.reset(lambda b: Reply(text="a long answer " * 20, cut_after=4))
    proxy = make_proxy(BLOCKING + f"    stream: {{mode: {mode}}}\n")
    r = post(proxy, {"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]})
    events = [orjson.loads(line[6:]) for line in r.text.split("\n") if line.startswith("data: {")]
    assert r.status_code == 200 and r.text.endswith("data: [DONE]\n\n")
    assert events[-2]["choices"][0]["finish_reason"] == "content_filter"
    assert events[-1]["llmvet"]["error"]["code"] == "upstream_bad_response"


def test_malformed_sse_is_a_clean_502(fake, make_proxy):
    fake.reset(lambda b: Reply(text="some answer text", malformed_after=2))
    r = post(make_proxy(BLOCKING), {"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]})
    assert "malformed" in assert_openai_error(r, 502)["message"]


def test_upstream_invalid_json_body_is_502(make_proxy):
    # A tiny upstream that answers 200 with a body that is not JSON.
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    from tests.support.servers import ThreadedServer

    async def broken(request):
        return Response(b"<html>oops</html>", media_type="application/json")

    with ThreadedServer(Starlette(routes=[Route("/v1/chat/completions", broken, methods=["POST"])])) as up:
        r = post(make_proxy(BLOCKING, upstream=up.url + "/v1"), {"model": "m", "messages": []})
    assert_openai_error(r, 502)


FAILING_VALIDATORS = """
rules:
  - name: vet
    validators:
      - {{use: explode}}
      - {{use: sleepy, with: {{seconds: 5}}, timeout: 0.3}}
    on_error: {mode}
"""


def test_validator_errors_fail_open(fake, make_proxy, test_plugin, caplog):
    proxy = make_proxy(FAILING_VALIDATORS.format(mode="open"))
    with caplog.at_level(logging.WARNING, logger="llmvet.engine"):
        r = post(proxy, {"model": "m", "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 200
    assert r.headers["x-llmvet-decision"] == "allow"
    assert "validator bug" in caplog.text and "timed out" in caplog.text


def test_validator_errors_fail_closed(fake, make_proxy, test_plugin):
    started = time.monotonic()
    r = post(
        make_proxy(FAILING_VALIDATORS.format(mode="closed")),
        {"model": "m", "messages": [{"role": "user", "content": "x"}]},
    )
    assert time.monotonic() - started < 4  # the 5 s validator was cut off at its 0.3 s timeout
    err = assert_openai_error(r, 422)
    assert "validator bug" in err["message"] and "timed out" in err["message"]
    runs = {v["validator"]: v for v in r.json()["llmvet"]["validators"]}
    assert runs["explode"]["status"] == "error" and runs["sleepy"]["status"] == "error"


def _tasks_on(proxy) -> int:
    async def count() -> int:
        return len(asyncio.all_tasks()) - 1  # not counting this one

    return asyncio.run_coroutine_threadsafe(count(), proxy.proxy.loop).result(5)


def post_and_hang_up(proxy, body: bytes, after: float) -> None:
    """POST a chat completion on a raw socket, then close it `after` seconds later, unread."""
    port = int(proxy.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )
        time.sleep(after)


def test_client_disconnect_mid_stream_cancels_the_upstream(fake, make_proxy):
    fake.reset(lambda b: Reply(text="slow " * 40, chunk_delay=0.1))
    proxy = make_proxy(BLOCKING)
    httpx.get(proxy.url + "/healthz")
    time.sleep(0.3)
    idle_tasks = _tasks_on(proxy)
    body = b'{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}'
    post_and_hang_up(proxy, body, 0.5)  # the proxy is buffering the upstream stream when the client goes
    deadline = time.monotonic() + 5
    while fake.streams_cancelled == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake.streams_cancelled == 1
    assert fake.streams_finished == 0
    deadline = time.monotonic() + 5
    while _tasks_on(proxy) > idle_tasks and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _tasks_on(proxy) == idle_tasks  # nothing left running for the gone client


def test_client_disconnect_on_passthrough_stream_cancels_the_upstream(fake, make_proxy):
    fake.reset(lambda b: Reply(text="slow " * 40, chunk_delay=0.1))
    proxy = make_proxy()  # default policy; the stream is vetted (buffered) too
    with httpx.stream("POST", proxy.url + "/v1/embeddings", json={"model": "e", "input": "x"}) as r:
        assert r.status_code == 200
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    no_rule = make_proxy("rules: []")
    with httpx.stream("POST", no_rule.url + "/v1/chat/completions", json=body) as r:
        first = next(r.iter_bytes())
        assert first.startswith(b"data: ")
    deadline = time.monotonic() + 5
    while fake.streams_cancelled == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake.streams_cancelled == 1


async def test_api_keys_never_reach_logs_or_audit(fake, make_proxy, tmp_path, caplog):
    from llmvet.store import open_store

    secret = "sk-very-secret-client-key-123456"
    fake.reset(lambda b: Reply(text="SECRET"))
    proxy = make_proxy(BLOCKING)
    client = openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=secret, max_retries=0)
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(openai.UnprocessableEntityError):
            await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        await client.close()
        await asyncio.sleep(0.5)
    assert secret not in caplog.text
    store = await open_store(f"sqlite:///{tmp_path / 'llmvet.db'}")
    rows = await store.read("audit")
    await store.close()
    assert rows and secret not in str(rows)
    assert rows[-1][1]["key"] and len(rows[-1][1]["key"]) == 12  # a short hash identifies the key


def test_client_disconnect_while_a_plain_answer_is_awaited_cancels_the_work(fake, make_proxy, caplog):
    # Not a stream: the proxy waits for the whole answer (5 s away) and has sent nothing yet.
    fake.reset(lambda b: Reply(text="late", delay=5))
    proxy = make_proxy(BLOCKING)
    httpx.get(proxy.url + "/healthz")
    time.sleep(0.3)
    idle_tasks = _tasks_on(proxy)
    body = b'{"model":"m","messages":[{"role":"user","content":"x"}]}'
    caplog.set_level(logging.INFO, logger="llmvet.proxy")
    started = time.monotonic()
    post_and_hang_up(proxy, body, 0.5)  # past the time a watcher starts
    while _tasks_on(proxy) > idle_tasks and time.monotonic() - started < 4:
        time.sleep(0.05)
    assert _tasks_on(proxy) == idle_tasks  # cancelled long before the upstream would have answered
    assert time.monotonic() - started < 4
    assert "client disconnected" in caplog.text and "upstream work cancelled" in caplog.text
