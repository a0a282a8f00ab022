"""The suggested fix travels: a hallucinated package's finding names the real one, and the proxy's
re-ask feedback tells the model to use it (the openai SDK as client, loopback upstream and registry)."""

from __future__ import annotations

import openai
import pytest

from tests.support.fake_registry import pypi_policy, running_registry
from tests.support.fake_upstream import Reply


@pytest.fixture(scope="module")
def registry():
    with running_registry() as reg:
        yield reg


def _typo_then_fixed(body):
    asked_again = any("did you mean" in str(m.get("content")) for m in body.get("messages", []))
    return Reply(text="Run `pip install requests`." if asked_again else "Run `pip install reqeusts`.")


def test_reask_feedback_names_the_suggested_package(fake, make_proxy, registry):
    policy = pypi_policy(registry.url, "reask", "    reask: {attempts: 1, fallback: block}\n")
    fake.reset(_typo_then_fixed)
    client = openai.OpenAI(base_url=make_proxy(policy).url + "/v1", api_key="k", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="m", messages=[{"role": "user", "content": "how do I fetch a URL?"}]
    )
    assert raw.parse().choices[0].message.content == "Run `pip install requests`."
    assert b"reqeusts" not in raw.http_response.content  # the hallucinated name never reaches the app
    _first, second = fake.requests[-2:]
    feedback = second.body["messages"][-1]["content"]
    assert "'reqeusts'" in feedback and "did you mean 'requests'?" in feedback


def _install_then_fixed(wrong: str, right: str, hint: str):
    def reply(body):
        asked_again = any(hint in str(m.get("content")) for m in body.get("messages", []))
        return Reply(text=f"Install it: `{right if asked_again else wrong}`.")

    return reply


def test_reask_feedback_names_the_same_package_on_the_other_registry(fake, make_proxy, registry):
    """`pip install express` is the npm package installed with the wrong tool, not a typo of PyPI's
    'xpress' (one edit away, and what the feedback said before it looked at the other registry)."""
    policy = f"""
rules:
  - name: packages
    validators:
      - use: packages
        with: {{pypi_index_url: "{registry.url}/simple", pypi_json_url: "{registry.url}/pypi",
                npm_registry_url: "{registry.url}/npm"}}
    on_fail: reask
    reask: {{attempts: 1, fallback: block}}
"""
    hint = "did you mean the npm package 'express'?"
    fake.reset(_install_then_fixed("pip install express", "npm install express", hint))
    client = openai.OpenAI(base_url=make_proxy(policy).url + "/v1", api_key="k", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="m", messages=[{"role": "user", "content": "a web server for node?"}]
    )
    assert raw.parse().choices[0].message.content == "Install it: `npm install express`."
    assert b"pip install express" not in raw.http_response.content  # the wrong command never reaches the app
    feedback = fake.requests[-1].body["messages"][-1]["content"]
    assert "'express' does not exist on" in feedback and hint in feedback and "'xpress'" not in feedback
