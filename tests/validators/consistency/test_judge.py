"""The LLM-judge mode end to end: the proxy, its marked re-asks, and a scripted judge model on the loopback
upstream (well-formed, fenced and malformed replies); the judge's cost in the audit record."""

from __future__ import annotations

import asyncio
import json

import httpx
import openai
import pytest

from llmvet.validators.consistency import ConsistencyConfig
from llmvet.validators.consistency.judge import JudgeError, parse
from tests.support.fake_upstream import FakeUpstream, Reply
from tests.validators.consistency.test_validator import MADE_UP, QUESTION, SAMPLES, TRUE_1, TRUE_2

ANSWER = f"{TRUE_1} {TRUE_2} {MADE_UP}"
JUDGE = "judge-mini"
POLICY = """
version: 1
name: judged
rules:
  - name: facts
    validators:
      - use: consistency
        id: judged
        with: {samples: 2, judge: true, judge_model: judge-mini, daily_token_budget: 100000}
        timeout: 30
    on_fail: annotate
    on_error: closed
"""


def test_parse_reads_verdicts_and_rejects_anything_else():
    assert parse('{"verdicts": ["yes", "No", "n/a"]}', 3) == [0.0, 1.0, 0.5]
    assert parse('```json\n{"verdicts": [true, false]}\n```', 2) == [0.0, 1.0]
    for bad, why in [
        ("Sentence 1 is supported.", "not JSON"),
        ('{"verdicts": ["yes"]}', "1 verdicts for 2"),
        ('{"verdicts": ["yes", "maybe"]}', "maybe"),
        ('{"answer": "yes"}', "verdicts"),
    ]:
        with pytest.raises(JudgeError, match=why):
            parse(bad, 2)


def test_judge_template_must_hold_its_placeholders():
    with pytest.raises(ValueError, match="sentences"):
        ConsistencyConfig(judge=True, judge_template="Context: {sample}")


def judge_script(reply_for_judge):
    def respond(body: dict) -> Reply:
        if body.get("model") == JUDGE:
            return Reply(text=reply_for_judge(body))
        if "max_completion_tokens" in body:  # the validator's re-asks always cap their tokens
            return Reply(text=SAMPLES)
        return Reply(text=ANSWER)

    return respond


async def audit_rows(tmp_path, count: int) -> list:
    from llmvet.store import open_store

    store = await open_store(f"sqlite:///{tmp_path / 'llmvet.db'}")
    try:
        for _ in range(100):
            rows = await store.read("audit")
            if len(rows) >= count:
                return [r[1] for r in rows]
            await asyncio.sleep(0.05)
    finally:
        await store.close()
    raise AssertionError("no audit record")


def test_judge_flags_the_sentence_it_finds_unsupported_and_its_cost_is_audited(fake, make_proxy, tmp_path):
    def verdicts(body: dict) -> str:
        prompt = body["messages"][-1]["content"]
        assert "1. " + TRUE_1 in prompt and "3. " + MADE_UP in prompt  # every sentence, numbered, in one call
        return json.dumps({"verdicts": ["yes", "yes", "no"]})

    fake.reset(judge_script(verdicts))
    proxy = make_proxy(POLICY)
    client = openai.OpenAI(base_url=proxy.url + "/v1", api_key="k", max_retries=0, timeout=60)
    raw = client.chat.completions.with_raw_response.create(model="m", messages=[{"role": "user", "content": QUESTION}])
    assert raw.headers["x-llmvet-decision"] == "annotate"
    (finding,) = raw.parse().model_extra["llmvet"]["findings"]
    assert finding["code"] == "consistency.unsupported_sentence" and finding["id"] == "judged"
    assert ANSWER[finding["span"][0] : finding["span"][1]] == MADE_UP

    judged = [r for r in fake.requests if r.body.get("model") == JUDGE]
    assert len(judged) == 2  # one call per other answer
    for r in judged:
        assert r.headers["x-llmvet-internal"] == proxy.proxy.settings.internal_token
        assert r.body["temperature"] == 0 and r.body["response_format"] == {"type": "json_object"}
        assert "n" not in r.body and r.body["stream"] is False
    assert {r.body["messages"][-1]["content"].split("\n\n")[0] for r in judged} == {
        f"Context: {s}" for s in SAMPLES[:2]
    }

    internal = [r for r in fake.requests if "x-llmvet-internal" in r.headers]
    expected = 0
    for r in internal:  # what the fake upstream reported for each internal call
        texts = SAMPLES[:2] if r.body.get("model") != JUDGE else ['{"verdicts": ["yes", "yes", "no"]}']
        expected += FakeUpstream._usage(r.body, texts)["total_tokens"]
    (record,) = asyncio.run(audit_rows(tmp_path, 1))
    assert record["extra_usage"]["total_tokens"] == expected


def test_malformed_judge_output_is_a_clear_error_that_fails_closed(fake, make_proxy, tmp_path):
    fake.reset(judge_script(lambda body: "Sure! Sentences 1 and 2 are supported, 3 is not."))
    proxy = make_proxy(POLICY)
    resp = httpx.post(
        proxy.url + "/v1/chat/completions",
        json={"model": "m", "messages": [{"role": "user", "content": QUESTION}]},
        timeout=60,
    )
    assert resp.status_code == 422  # on_error: closed blocks
    message = resp.json()["error"]["message"]  # the client is told why, with the instance id
    assert message.startswith("The response was blocked by policy")
    assert "judged: error (the judge's reply is not usable: not JSON" in message
    assert ANSWER.encode() not in resp.content  # the unchecked answer never reaches the client
    (record,) = asyncio.run(audit_rows(tmp_path, 1))
    (run,) = [v for v in record["validators"] if v["validator"] == "judged"]
    assert run["status"] == "error" and "judge's reply is not usable: not JSON" in run["error"]
    assert record["extra_usage"]["total_tokens"] > 0  # the judge calls cost tokens all the same
