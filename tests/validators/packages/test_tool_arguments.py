"""Tool-call arguments are JSON text: the packages validator reads its escapes as what they stand for,
so `\\nls` is not a package "nls", `\\u2014` not "u2014", and a quoted `\\"name\\"` is read (the openai
SDK as client, loopback upstream and registry; spans still point into the raw arguments)."""

from __future__ import annotations

import json

import openai
import pytest

from llmvet.validators.packages.json_view import json_view
from tests.support.fake_upstream import Reply


@pytest.mark.parametrize(
    ("raw", "view"),
    [
        (r"pip install a\nls", "pip install a \nls"),
        (r"a \u2014 b", "a      \u2014 b"),
        (r"\"requests\"", ' "requests "'),
        (r"C:\\new", "C: \\new"),  # an escaped backslash, then a plain "n"
        (r"x\ud83c\udf00y", "x" + " " * 12 + "y"),  # surrogate halves: spaces
        (r"tab\tand\/slash", "tab \tand /slash"),
        (r"cut \u20", r"cut \u20"),  # a stream's chunk may end inside an escape: left as it is
        ("no escapes", "no escapes"),
    ],
)
def test_escapes_are_undone_in_place(raw, view):
    assert json_view(raw) == view
    assert len(json_view(raw)) == len(raw)


def _tool_call(arguments: str) -> Reply:
    call = {"id": "c1", "type": "function", "function": {"name": "run", "arguments": arguments}}
    message = {"role": "assistant", "content": None, "tool_calls": [call]}
    return Reply(
        body={
            "id": "x",
            "object": "chat.completion",
            "created": 1,
            "model": "m",
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
        }
    )


@pytest.fixture
def proxy_client(make_proxy, fake_registry):
    url = fake_registry.url
    policy = f"""
rules:
  - name: packages
    validators:
      - use: packages
        with: {{pypi_index_url: "{url}/simple", pypi_json_url: "{url}/pypi", ecosystems: [pypi]}}
    on_fail: block
"""
    return openai.OpenAI(base_url=make_proxy(policy).url + "/v1", api_key="k", max_retries=0)


def test_escaped_arguments_with_real_packages_pass(fake, proxy_client):
    arguments = json.dumps({"cmd": "pip install requests\nls -la \u2014 done \U0001f680", "why": 'say "hi"'})
    assert "\\n" in arguments and "\\u2014" in arguments  # (json.dumps escapes: what the proxy reads)
    fake.reset(lambda body: _tool_call(arguments))
    raw = proxy_client.chat.completions.with_raw_response.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert raw.http_response.status_code == 200
    call = json.loads(raw.http_response.content)["choices"][0]["message"]["tool_calls"][0]
    assert call["function"]["arguments"] == arguments  # byte for byte as the upstream sent it


def test_a_made_up_package_in_escaped_arguments_is_found_at_its_raw_span(fake, proxy_client):
    arguments = json.dumps({"cmd": 'pip install "flaskk-jwt-toolz-9q"\nls \u2014 ok', "then": "pip install requests"})
    fake.reset(lambda body: _tool_call(arguments))
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        proxy_client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    raw = caught.value.response.content
    assert b"pip install requests" not in raw and b"then" not in raw  # the arguments never reach the app
    findings = json.loads(raw)["llmvet"]["findings"]
    assert [(f["code"], arguments[slice(*f["span"])]) for f in findings] == [("package.missing", "flaskk-jwt-toolz-9q")]
