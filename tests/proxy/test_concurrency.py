"""Many clients at once: each gets its own answer and its own decision."""

import asyncio

import openai

from tests.support.fake_upstream import Reply

POLICY = """
rules:
  - name: odd-numbers-flagged
    validators: [{use: regex, with: {must_not_match: ["[13579]$"]}}]
    on_fail: annotate
"""


def answer_for(body):
    question = body["messages"][-1]["content"]
    return Reply(text=f"answer to {question}", delay=0.01)


async def test_150_concurrent_requests_each_get_their_own_answer_and_decision(fake, make_proxy):
    fake.reset(answer_for)
    proxy = make_proxy(POLICY)
    client = openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key="k", max_retries=0)

    async def one(i: int):
        stream = i % 3 == 0
        if stream:
            raw = await client.chat.completions.with_raw_response.create(
                model="m", messages=[{"role": "user", "content": f"q{i}"}], stream=True
            )
            chunks = [c async for c in raw.parse()]
            text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            # streamed incrementally: the decision travels in the last chunk's llmvet field (when not allow)
            note = (chunks[-1].model_extra or {}).get("llmvet") or {"decision": "allow"}
            return i, text, note["decision"], raw.headers["x-llmvet-request-id"]
        else:
            raw = await client.chat.completions.with_raw_response.create(
                model="m", messages=[{"role": "user", "content": f"q{i}"}]
            )
            text = raw.parse().choices[0].message.content
        return i, text, raw.headers["x-llmvet-decision"], raw.headers["x-llmvet-request-id"]

    results = await asyncio.gather(*(one(i) for i in range(150)))
    await client.close()
    for i, text, decision, _ in results:
        assert text == f"answer to q{i}"
        assert decision == ("annotate" if i % 2 else "allow"), (i, decision)
    assert len({r[3] for r in results}) == 150  # a distinct request id each
