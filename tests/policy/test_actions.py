"""What a security team's policy does to an answer: annotate, block, reask, append, escalate."""

import asyncio
import hashlib

import httpx
import openai
import orjson
import pytest

from tests.support import ROOT
from tests.support.fake_upstream import Reply

POLICY = """
version: 1
name: actions
rules:
  - name: {name}
    match: {{models: ["{model}"]}}
    validators:
      - use: regex
        id: no-secrets
        with: {{must_not_match: ["SECRET-[0-9]+"]}}
    on_fail: {action}
    reask: {{attempts: {attempts}, fallback: {fallback}, feedback: "Fix this:\\n{{findings}}"}}
    append: {{text: " [unverified]"}}
    block: {{status: {status}, message: "Blocked by test policy"}}
"""


def policy(action="annotate", model="*", attempts=1, fallback="block", status=422, name="r1"):
    return POLICY.format(action=action, model=model, attempts=attempts, fallback=fallback, status=status, name=name)


def redacted(secret: str) -> str:
    """What a finding may say of `secret`: first characters, length, short hash; never the secret."""
    shown = secret[: min(4, len(secret) // 4)]
    return f"{shown}…[{len(secret)} chars, sha256:{hashlib.sha256(secret.encode()).hexdigest()[:8]}]"


def chat(proxy, content="q", **kw):
    client = openai.OpenAI(base_url=proxy.url + "/v1", api_key="k", max_retries=0)
    return client.chat.completions.with_raw_response.create(
        model="m", messages=[{"role": "user", "content": content}], **kw
    )


def test_annotate_adds_headers_and_body_field_text_unchanged(fake, make_proxy):
    fake.reset(lambda b: Reply(text="the code is SECRET-42, keep it"))
    raw = chat(make_proxy(policy("annotate")))
    completion = raw.parse()
    assert completion.choices[0].message.content == "the code is SECRET-42, keep it"
    assert raw.headers["x-llmvet-decision"] == "annotate"
    assert raw.headers["x-llmvet-rule"] == "r1"
    note = completion.model_extra["llmvet"]
    assert note["decision"] == "annotate" and note["rule"] == "r1"
    (finding,) = note["findings"]
    assert finding["validator"] == "regex"
    assert finding["span"] == [12, 21] and "the code is SECRET-42, keep it"[12:21] == "SECRET-42"
    assert "match" not in finding["evidence"] and finding["span"]  # where, not what: the client never gets it echoed
    assert finding["message"] == "matches forbidden pattern must_not_match[0]: " + redacted("SECRET-42")
    assert b"SECRET-42" not in raw.http_response.content.replace(b"the code is SECRET-42, keep it", b"")
    assert "SECRET-[0-9]+" not in raw.http_response.text  # the policy's pattern is not disclosed
    assert note["request_id"] == raw.headers["x-llmvet-request-id"]


def test_passing_answer_is_allowed_untouched(fake, make_proxy):
    fake.reset(lambda b: Reply(text="nothing to see"))
    raw = chat(make_proxy(policy("block")))
    assert raw.headers["x-llmvet-decision"] == "allow"
    assert "llmvet" not in (raw.parse().model_extra or {})


def test_block_is_an_openai_error_naming_rule_and_findings(fake, make_proxy):
    fake.reset(lambda b: Reply(text="SECRET-7"))
    proxy = make_proxy(policy("block", status=451))
    with pytest.raises(openai.APIStatusError) as info:
        chat(proxy)
    err = info.value
    assert err.status_code == 451
    body = err.response.json()
    assert set(body["error"]) == {"message", "type", "code", "param"}
    assert body["error"]["code"] == "blocked_by_policy"
    # names the rule and the finding code, never the matched text or the policy's pattern
    assert "r1" in body["error"]["message"] and "regex.must_not_match" in body["error"]["message"]
    assert "SECRET" not in body["error"]["message"]
    raw_bytes = err.response.content
    assert b"SECRET-7" not in raw_bytes and b"SECRET-[0-9]" not in raw_bytes  # neither secret nor pattern
    assert err.response.headers["x-llmvet-decision"] == "block"


def test_block_on_stream_returns_error_before_any_byte(fake, make_proxy):
    fake.reset(lambda b: Reply(text="here it comes: SECRET-99 and more text after it"))
    proxy = make_proxy(policy("block"))
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    r = httpx.post(proxy.url + "/v1/chat/completions", json=body)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/json")
    assert b"data:" not in r.content and b"SECRET-99" not in r.content.split(b'"llmvet"')[0]
    client = openai.OpenAI(base_url=proxy.url + "/v1", api_key="k", max_retries=0)
    with pytest.raises(openai.UnprocessableEntityError):
        list(client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}], stream=True))


def _bad_then_good(body):
    asked_again = any("Fix this" in str(m.get("content")) for m in body.get("messages", []))
    return Reply(text="fixed answer" if asked_again else "leaks SECRET-1")


def test_reask_sends_findings_back_and_returns_the_fixed_answer(fake, make_proxy):
    fake.reset(_bad_then_good)
    raw = chat(make_proxy(policy("reask", attempts=2)), content="original question")
    assert raw.parse().choices[0].message.content == "fixed answer"
    assert raw.headers["x-llmvet-reasks"] == "1"
    assert raw.parse().model_extra["llmvet"]["reasks"] == 1
    _first, second = fake.requests[-2:]
    msgs = second.body["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]
    assert msgs[0]["content"] == "original question"
    assert msgs[1]["content"] == "leaks SECRET-1"
    assert "Fix this" in msgs[2]["content"] and "must_not_match[0]: " + redacted("SECRET-1") in msgs[2]["content"]


def test_reask_then_fallback_when_attempts_are_used_up(fake, make_proxy):
    fake.reset(lambda b: Reply(text="always SECRET-5"))
    proxy = make_proxy(policy("reask", attempts=2, fallback="annotate"))
    raw = chat(proxy)
    assert len(fake.requests) == 3  # the answer and two re-asks
    assert raw.headers["x-llmvet-decision"] == "annotate"
    assert raw.headers["x-llmvet-reasks"] == "2"


def test_reask_on_streaming_request_replays_the_fixed_stream(fake, make_proxy):
    fake.reset(_bad_then_good)
    client = openai.OpenAI(base_url=make_proxy(policy("reask")).url + "/v1", api_key="k", max_retries=0)
    chunks = list(client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}], stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "fixed answer"
    assert fake.requests[-1].body["stream"] is True


def test_reask_on_responses_route_keeps_the_conversation(fake, make_proxy):
    fake.reset(lambda b: Reply(text="fixed answer" if isinstance(b["input"], list) else "SECRET-3"))
    client = openai.OpenAI(base_url=make_proxy(policy("reask")).url + "/v1", api_key="k", max_retries=0)
    assert client.responses.create(model="m", input="question").output_text == "fixed answer"
    roles = [m["role"] for m in fake.requests[-1].body["input"]]
    assert roles == ["user", "assistant", "user"]


def test_append_adds_the_notice_json_and_stream(fake, make_proxy):
    fake.reset(lambda b: Reply(text="SECRET-8 inside"))
    proxy = make_proxy(policy("append"))
    assert chat(proxy).parse().choices[0].message.content == "SECRET-8 inside [unverified]"
    client = openai.OpenAI(base_url=proxy.url + "/v1", api_key="k", max_retries=0)
    chunks = list(client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}], stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "SECRET-8 inside [unverified]"
    events = list(client.responses.create(model="m", input="x", stream=True))
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "SECRET-8 inside [unverified]"
    assert events[-1].response.output_text == "SECRET-8 inside [unverified]"


def test_annotate_on_stream_puts_llmvet_in_the_last_chunk(fake, make_proxy):
    fake.reset(lambda b: Reply(text="SECRET-2"))
    proxy = make_proxy(policy("annotate"))
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    r = httpx.post(proxy.url + "/v1/chat/completions", json=body)
    assert r.headers["x-llmvet-decision"] == "incremental"  # streamed as it came: decided at the end
    data = [line[6:] for line in r.text.split("\n") if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    last = orjson.loads(data[-2])["llmvet"]
    assert last["decision"] == "annotate" and last["findings"][0]["code"] == "regex.must_not_match"
    buffered = make_proxy(policy("annotate").replace("rules:", "rules:", 1) + "    stream: {mode: buffer}\n")
    r = httpx.post(buffered.url + "/v1/chat/completions", json=body)
    assert r.headers["x-llmvet-decision"] == "annotate"  # buffered: decided before the first byte


def test_escalate_without_review_queue_blocks_with_clear_message(fake, make_proxy):
    fake.reset(lambda b: Reply(text="SECRET-4"))
    proxy = make_proxy(policy("escalate"))
    proxy.proxy.rt.escalation = None  # as in an install without the review queue
    with pytest.raises(openai.UnprocessableEntityError) as info:
        chat(proxy)
    assert "review" in info.value.response.json()["error"]["message"]


def test_rules_select_by_model_glob(fake, make_proxy):
    fake.reset(lambda b: Reply(text="SECRET-6"))
    proxy = make_proxy(policy("block", model="gpt-4*"))
    client = openai.OpenAI(base_url=proxy.url + "/v1", api_key="k", max_retries=0)
    with pytest.raises(openai.UnprocessableEntityError):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    ok = client.chat.completions.create(model="llama-3", messages=[{"role": "user", "content": "x"}])
    assert ok.choices[0].message.content == "SECRET-6"


ROUTE_POLICY = """
rules:
  - name: chat-only
    match: {routes: [chat.completions]}
    validators: [{use: regex, with: {must_not_match: ["SECRET"]}}]
    on_fail: block
"""


def test_rules_select_by_route(fake, make_proxy):
    fake.reset(lambda b: Reply(text="SECRET"))
    client = openai.OpenAI(base_url=make_proxy(ROUTE_POLICY).url + "/v1", api_key="k", max_retries=0)
    with pytest.raises(openai.UnprocessableEntityError):
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert client.completions.create(model="m", prompt="x").choices[0].text == "SECRET"


async def test_audit_records_every_decision(fake, make_proxy, tmp_path):
    from llmvet.store import open_store

    fake.reset(lambda b: Reply(text="SECRET-1"))
    proxy = make_proxy(policy("annotate"))
    chat(proxy)
    store = await open_store(f"sqlite:///{tmp_path / 'llmvet.db'}")
    for _ in range(50):  # the writer flushes in the background within 0.2 s
        rows = await store.read("audit")
        if rows:
            break
        await asyncio.sleep(0.05)
    await store.close()
    ((_, record),) = rows
    assert record["action"] == "annotate" and record["rule"] == "r1"
    assert record["findings"][0]["code"] == "regex.must_not_match"
    evidence = record["findings"][0]["evidence"]
    assert evidence["match"] == redacted("SECRET-1") and evidence["pattern"] == "SECRET-[0-9]+"
    assert "SECRET-1" not in orjson.dumps(record).decode()  # the audit keeps no secret by default
    assert record["policy_version"] == proxy.proxy.policy.version
    assert len(record["response_sha256"]) == 64


def test_every_choice_is_vetted_when_n_is_above_one(fake, make_proxy):
    fake.reset(lambda b: Reply(text=["clean answer", "leaks SECRET-11"]))
    with pytest.raises(openai.UnprocessableEntityError) as info:
        chat(make_proxy(policy("block")), n=2)
    finding = info.value.response.json()["llmvet"]["findings"][0]
    assert finding["evidence"]["choice"] == 1 and "SECRET-11" not in str(finding)


PASSTHROUGH_STREAM = """
rules:
  - name: audit-only-streams
    validators: [{use: regex, with: {must_not_match: ["SECRET-[0-9]+"]}}]
    on_fail: block
    stream: {mode: passthrough}
"""


async def test_passthrough_stream_mode_streams_now_and_audits_after(fake, make_proxy, tmp_path):
    from llmvet.store import open_store

    fake.reset(lambda b: Reply(text="streamed SECRET-12 anyway"))
    proxy = make_proxy(PASSTHROUGH_STREAM)
    client = openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key="k", max_retries=0)
    stream = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}], stream=True)
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    await client.close()
    assert text == "streamed SECRET-12 anyway"  # not blocked: this rule only audits streams
    store = await open_store(f"sqlite:///{tmp_path / 'llmvet.db'}")
    for _ in range(50):
        rows = await store.read("audit")
        if rows:
            break
        await asyncio.sleep(0.05)
    await store.close()
    record = rows[-1][1]
    assert record["action"] == "allow" and record["policy_action"] == "block" and record["stream"] is True
    # Non-streaming requests under the same rule are still blocked.
    with pytest.raises(openai.UnprocessableEntityError):
        chat(proxy)


@pytest.mark.parametrize(
    "model,decision",
    [("demo-allow", "allow"), ("demo-annotate", "annotate"), ("demo-append", "append"), ("demo-reask", "annotate")],
)
def test_bundled_actions_policy_does_what_its_comments_say(fake, make_proxy, model, decision):
    fake.reset(lambda b: Reply(text="Results guaranteed!"))
    proxy = make_proxy((ROOT / "policies" / "actions.yaml").read_text())
    client = openai.OpenAI(base_url=proxy.url + "/v1", api_key="k", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(model=model, messages=[{"role": "user", "content": "x"}])
    assert raw.headers["x-llmvet-decision"] == decision
    if model == "demo-reask":
        assert raw.headers["x-llmvet-reasks"] == "2"
    with pytest.raises(openai.UnprocessableEntityError):
        client.chat.completions.create(model="demo-block", messages=[{"role": "user", "content": "x"}])


def test_a_vetted_request_reaches_the_upstream_as_the_client_sent_it(fake, make_proxy):
    raw = b'{"model": "m",   "messages": [{"role": "user", "content": "spaced  out"}], "extra_field": 1}'
    r = httpx.post(
        make_proxy(policy("block")).url + "/v1/chat/completions",
        content=raw,
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 200 and r.headers["x-llmvet-rule"] == "r1"
    assert fake.requests[-1].raw == raw  # no validator changed it, so not even re-serialised
