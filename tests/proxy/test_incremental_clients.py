"""Other OpenAI clients read llmvet's incremental streams too, a stopped one included, without an
exception in their stream loop: LangChain's ChatOpenAI and LiteLLM."""

from __future__ import annotations

import pytest

from tests.proxy.test_incremental import KEY, PROSE, policy
from tests.support.fake_upstream import Reply

MESSAGES = [{"role": "user", "content": "q"}]


@pytest.fixture
def guarded(fake, make_proxy):
    return make_proxy(policy())


def test_langchain_streams_through_and_stops_cleanly(fake, guarded):
    chat_openai = pytest.importorskip("langchain_openai").ChatOpenAI
    llm = chat_openai(base_url=guarded.url + "/v1", api_key="k", model="m", max_retries=0)
    fake.reset(lambda b: Reply(text=PROSE))
    assert "".join(c.content for c in llm.stream("q")) == PROSE
    fake.reset(lambda b: Reply(text=f"{PROSE} {KEY} tail", chunk_delay=0.003))  # prose goes out before the key
    chunks = list(llm.stream("q"))
    text = "".join(c.content for c in chunks)
    assert text.startswith("word0") and KEY not in text
    finish = [c.response_metadata.get("finish_reason") for c in chunks if c.response_metadata]
    assert "content_filter" in finish


def test_litellm_streams_through_and_stops_cleanly(fake, guarded, monkeypatch):
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no model-price download at import
    litellm = pytest.importorskip("litellm")
    kwargs = {"model": "openai/m", "api_base": guarded.url + "/v1", "api_key": "k", "messages": MESSAGES}
    fake.reset(lambda b: Reply(text=PROSE))
    stream = litellm.completion(stream=True, **kwargs)
    assert "".join(c.choices[0].delta.content or "" for c in stream) == PROSE
    fake.reset(lambda b: Reply(text=f"{PROSE} {KEY} tail", chunk_delay=0.003))  # prose goes out before the key
    chunks = list(litellm.completion(stream=True, **kwargs))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("word0") and KEY not in text
    assert "content_filter" in [c.choices[0].finish_reason for c in chunks if c.choices]
