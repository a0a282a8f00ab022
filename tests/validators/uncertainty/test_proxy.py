"""The uncertainty validator through the real proxy and policy engine (fake upstream, official openai SDK)."""

from __future__ import annotations

import openai

from tests.support.fake_upstream import Reply

POLICY = """
version: 1
name: uncertainty
rules:
  - name: honest
    match: {{models: ["*"]}}
    validators:
      - use: uncertainty
        with: {{add_instruction: true, instruction: "Say how sure you are."}}
    on_fail: {action}
    append: {{text: " [no uncertainty stated]"}}
"""


def chat(proxy, content="When was the bridge built?"):
    client = openai.OpenAI(base_url=proxy.url + "/v1", api_key="k", max_retries=0)
    return client.chat.completions.with_raw_response.create(model="m", messages=[{"role": "user", "content": content}])


def test_instruction_reaches_upstream_and_missing_statement_is_annotated(fake, make_proxy):
    fake.reset(lambda b: Reply(text="It was built in 1932."))
    raw = chat(make_proxy(POLICY.format(action="annotate")))
    sent = fake.requests[-1].body["messages"]
    assert sent[0] == {"role": "system", "content": "Say how sure you are."}
    assert raw.headers["x-llmvet-decision"] == "annotate"
    assert raw.headers["x-llmvet-uncertainty"] == "missing"
    assert raw.parse().choices[0].message.content == "It was built in 1932."


def test_compliant_answer_is_allowed(fake, make_proxy):
    fake.reset(lambda b: Reply(text="It was built in 1932. Confidence: medium - I could not check the exact year."))
    raw = chat(make_proxy(POLICY.format(action="annotate")))
    assert raw.headers["x-llmvet-decision"] == "allow"


def test_append_adds_the_rules_notice(fake, make_proxy):
    fake.reset(lambda b: Reply(text="It was built in 1932."))
    raw = chat(make_proxy(POLICY.format(action="append")))
    assert raw.headers["x-llmvet-decision"] == "append"
    assert raw.parse().choices[0].message.content == "It was built in 1932. [no uncertainty stated]"
