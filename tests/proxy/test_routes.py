"""An app changes only its base URL: every route keeps the upstream's shape for the official SDK."""

import httpx
import openai
import pytest

from tests.support.fake_upstream import Reply


@pytest.fixture
def proxy(make_proxy):
    return make_proxy()


@pytest.fixture
def client(proxy):
    return openai.OpenAI(base_url=proxy.url + "/v1", api_key="sk-client-key", max_retries=0)


def test_chat_completion_keeps_ids_usage_and_finish_reason(fake, client):
    fake.reset(lambda body: Reply(text="Paris is the capital of France.", finish_reason="length"))
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Capital of France?"}]
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "Paris is the capital of France."
    assert completion.choices[0].finish_reason == "length"
    assert completion.id.startswith("chatcmpl-")
    assert completion.system_fingerprint == "fp_fake"
    assert completion.usage.completion_tokens == 6  # the fake counts words
    assert raw.headers["x-llmvet-decision"] == "allow"
    assert raw.headers["x-llmvet-request-id"].startswith("req_")
    # The request reached the upstream as sent, with the client's own key.
    seen = fake.requests[-1]
    assert seen.body["messages"][0]["content"] == "Capital of France?"
    assert seen.headers["authorization"] == "Bearer sk-client-key"


def test_chat_streaming_keeps_sse_framing_and_usage_chunk(fake, client):
    fake.reset(lambda body: Reply(text="one two three four five six seven"))
    chunks = list(
        client.chat.completions.create(
            model="m",
            messages=[{"role": "user", "content": "count"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three four five six seven"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 7
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"


def test_streamed_bytes_are_replayed_exactly_when_allowed(fake, proxy):
    fake.reset(lambda body: Reply(text="byte exact"))
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    via_proxy = httpx.post(proxy.url + "/v1/chat/completions", json=body).content
    direct = httpx.post(fake.url + "/v1/chat/completions", json=body).content
    # Same framing; only ids/timestamps differ between the two upstream calls.
    assert via_proxy.count(b"data: ") == direct.count(b"data: ")
    assert via_proxy.endswith(b"data: [DONE]\n\n")


async def test_async_client_chat_and_stream(fake, proxy):
    client = openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key="k", max_retries=0)
    done = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "async hi"}])
    assert done.choices[0].message.content == "echo: async hi"
    stream = await client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "async stream"}], stream=True
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "echo: async stream"
    await client.close()


def test_completions_json_and_stream(fake, client):
    assert client.completions.create(model="m", prompt="complete me").choices[0].text == "echo: complete me"
    streamed = "".join(c.choices[0].text for c in client.completions.create(model="m", prompt="s", stream=True))
    assert streamed == "echo: s"


def test_responses_json_and_stream(fake, client):
    response = client.responses.create(model="m", input="hello responses")
    assert response.output_text == "echo: hello responses"
    assert response.usage.output_tokens == 3
    events = list(client.responses.create(model="m", input="streamed responses", stream=True))
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == "echo: streamed responses"
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == "echo: streamed responses"


def test_models_list_passes_through(fake, client):
    assert [m.id for m in client.models.list()] == ["fake-model", "gpt-4o-mini"]


def test_other_v1_paths_pass_through_byte_for_byte(fake, proxy):
    body = b'{"model":"e","input":"hi"}'
    via_proxy = httpx.post(
        proxy.url + "/v1/embeddings",
        content=body,
        headers={"content-type": "application/json", "authorization": "Bearer k"},
    )
    direct = httpx.post(fake.url + "/v1/embeddings", content=body, headers={"content-type": "application/json"})
    assert via_proxy.status_code == 200
    assert via_proxy.content == direct.content
    assert via_proxy.headers["x-fake-header"] == "kept"
    assert fake.requests[-2].raw == body  # what the proxy sent upstream


def test_cookies_for_llmvet_are_never_sent_upstream(fake, proxy):
    """The reviewer UI's session cookie lives on llmvet's origin; upstream requests must not carry it."""
    cookies = {"cookie": "llmvet_review_session=secret-session"}
    httpx.post(proxy.url + "/v1/embeddings", json={"model": "e", "input": "x"}, headers=cookies)
    httpx.post(proxy.url + "/v1/chat/completions", json={"model": "m", "messages": []}, headers=cookies)
    assert [s.headers.get("cookie") for s in fake.requests[-2:]] == [None, None]


def test_readiness_never_shows_upstream_credentials(make_proxy, fake):
    proxy = make_proxy(upstream=fake.url.replace("http://", "http://user:hunter2@") + "/v1?key=abc")
    shown = httpx.get(proxy.url + "/readyz").json()["upstream"]
    assert "hunter2" not in shown and "abc" not in shown and shown.endswith("/v1")


def test_binary_upload_passes_through_unchanged(fake, proxy):
    payload = bytes(range(256)) * 4096  # 1 MiB, every byte value
    r = httpx.post(proxy.url + "/v1/files", content=payload, headers={"content-type": "application/octet-stream"})
    assert r.status_code == 200
    assert r.headers["x-received-bytes"] == str(len(payload))
    assert r.content == payload


def test_sdk_embeddings_via_proxy(fake, client):
    assert client.embeddings.create(model="e", input="hi").data[0].embedding == [0.5, -0.25]


def test_health_and_readiness(proxy):
    assert httpx.get(proxy.url + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(proxy.url + "/readyz")
    assert ready.status_code == 200 and ready.json()["store"] == "ok"


KEYED_POLICY = """
version: 1
name: keyed
keys:
  - label: team-a
    key_env: [LLMVET_TEST_TEAM_A_KEY]
    upstream_key_env: LLMVET_TEST_UPSTREAM_KEY
rules:
  - name: team-a-only
    match: {keys: [team-a]}
    validators:
      - use: regex
        with: {must_not_match: ["forbidden"]}
    on_fail: block
"""


def test_policy_maps_client_key_to_upstream_key(fake, make_proxy, monkeypatch):
    monkeypatch.setenv("LLMVET_TEST_TEAM_A_KEY", "sk-team-a")
    monkeypatch.setenv("LLMVET_TEST_UPSTREAM_KEY", "sk-real-upstream")
    proxy = make_proxy(KEYED_POLICY)
    fake.reset(lambda body: Reply(text="this is forbidden"))
    team_a = openai.OpenAI(base_url=proxy.url + "/v1", api_key="sk-team-a", max_retries=0)
    other = openai.OpenAI(base_url=proxy.url + "/v1", api_key="sk-someone-else", max_retries=0)
    with pytest.raises(openai.UnprocessableEntityError):
        team_a.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert fake.requests[-1].headers["authorization"] == "Bearer sk-real-upstream"
    # Another key matches no rule: forwarded untouched, with its own Authorization.
    assert other.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert fake.requests[-1].headers["authorization"] == "Bearer sk-someone-else"


def test_readiness_waits_for_validators_to_warm_up(fake, make_proxy, test_plugin):
    import time

    proxy = make_proxy(
        "rules:\n  - name: r\n    validators:\n      - {use: sleepy, with: {seconds: 0, warm_up_seconds: 1.5}}\n"
    )
    first = httpx.get(proxy.url + "/readyz")
    assert first.status_code == 503 and first.json()["validators"] == "warming"
    # Serving does not wait for the warm-up.
    assert (
        httpx.post(
            proxy.url + "/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "x"}]}
        ).status_code
        == 200
    )
    deadline = time.monotonic() + 10
    while httpx.get(proxy.url + "/readyz").status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert httpx.get(proxy.url + "/readyz").json()["validators"] == "ok"
