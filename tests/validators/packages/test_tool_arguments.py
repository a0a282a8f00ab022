"""Tool-call arguments are JSON text: the packages validator reads its escapes as what they stand for,
so `\\nls` is not a package "nls", `\\u2014` not "u2014", and a quoted `\\"name\\"` is read (the openai
SDK as client, loopback upstream and registry; spans still point into the raw arguments)."""

from __future__ import annotations

import json

import openai
import pytest

from llmvet.validators.packages.extract import extract
from llmvet.validators.packages.json_view import json_view, string_blocks
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


def test_a_strings_quotes_become_line_breaks_so_its_lines_stand_alone():
    raw = '{"code": "import numpy\\nimport pandas", "args": ["-v", "pip install \\"x\\""]}'
    view = json_view(raw)
    assert len(view) == len(raw)
    assert view.splitlines() == [
        *("{", "code", ": ", "import numpy ", "import pandas", ", "),
        *("args", ": [", "-v", ", ", 'pip install  "x "', "]}"),
    ]
    assert json_view('pip install "requests"') == 'pip install "requests"'  # prose quotes stay quotes


def test_imports_in_code_sent_as_a_json_string_are_read(fake, proxy_client):
    """A code-running tool's source: the made-up import is found, the real one is not flagged."""
    arguments = json.dumps({"language": "python", "code": "import requests\nimport flaskk_jwt_toolz_9q\nprint(1)"})
    fake.reset(lambda body: _tool_call(arguments))
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        proxy_client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    raw = caught.value.response.content
    assert b"print(1)" not in raw
    findings = json.loads(raw)["llmvet"]["findings"]
    assert [arguments[slice(*f["span"])] for f in findings] == ["flaskk_jwt_toolz_9q"], findings


@pytest.mark.parametrize(
    ("arguments", "found"),
    [
        (
            {"path": "requirements.txt", "content": "flask==3.0\nflaskk-jwt-toolz-9q>=1.0\n"},
            ["flask", "flaskk-jwt-toolz-9q"],
        ),
        ({"code": "const x = require('lodashh-fp9')\nconsole.log(x)"}, ["lodashh-fp9"]),
        ({"language": "python", "code": "import numpy as np\nfrom sklearnn_x import a\n"}, ["numpy", "sklearnn_x"]),
        ({"text": "To import data, open the menu.", "n": 3}, []),  # prose: no import statement
    ],
)
def test_strings_sent_to_a_tool_are_read_as_code(arguments, found):
    """Files a tool writes and code it runs: manifests and imports, each at its raw span."""
    raw = json.dumps(arguments)
    view = json_view(raw)
    refs = extract(view, string_blocks(raw, view)).refs
    assert [raw[slice(*r.span)] for r in refs] == [r.name for r in refs] == found
