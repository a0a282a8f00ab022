"""Tool-call arguments are JSON text: the packages validator reads them as the tool will, so `\\nls`
is not a package "nls", `\\u2014` not "u2014", `p\\u0069p` is pip, a quoted `\\"name\\"` is read, and
code or a manifest sent as a string is read as code (the openai SDK as client, loopback upstream and
registry; spans still point into the raw arguments, streamed or not)."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from llmvet.validators.packages.arguments import arguments_view, string_blocks
from llmvet.validators.packages.extract import extract
from tests.support.fake_registry import pypi_policy
from tests.support.fake_upstream import Reply


@pytest.mark.parametrize(
    ("raw", "lines"),
    [
        (r'{"cmd": "pip install a\nls"}', ["{", "cmd", ": ", "pip install a", "ls", "}"]),
        (r'["a \u2014 b", "p\u0069p"]', ["[", "a \u2014 b", ", ", "pip", "]"]),
        (r'{"q": "\"requests\""}', ["{", "q", ": ", '"requests"', "}"]),
        (r'{"p": "C:\\new"}', ["{", "p", ": ", "C:\\new", "}"]),  # an escaped backslash, then a plain "n"
        (r'{"e": "x\ud83c\udf00y\ud83c"}', ["{", "e", ": ", "x\U0001f300y\ufffd", "}"]),  # a pair; a lone half
        ('pip install "requests"', ['pip install "requests"']),  # not JSON: its quotes stay quotes
    ],
)
def test_arguments_are_read_as_the_tool_reads_them(raw, lines):
    view = arguments_view(raw)
    assert view.text.splitlines() == lines
    for i, char in enumerate(view.text):  # every character maps back to what wrote it
        written = raw[slice(*view.raw_span(i, i + 1))]
        assert written == char or (char, written) == ("\n", '"') or json.loads(f'"{written}"') in (char, "\ud83c")


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
def blocking_proxy(make_proxy, fake_registry):
    return make_proxy(pypi_policy(fake_registry.url, "block"))


@pytest.fixture
def proxy_client(blocking_proxy):
    return openai.OpenAI(base_url=blocking_proxy.url + "/v1", api_key="k", max_retries=0)


def _blocked(fake, proxy_client, arguments: str) -> tuple[bytes, list[dict]]:
    """The raw body of the 422 a tool call with `arguments` gets, and its findings."""
    fake.reset(lambda body: _tool_call(arguments))
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        proxy_client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    raw = caught.value.response.content
    return raw, json.loads(raw)["llmvet"]["findings"]


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
    raw, findings = _blocked(fake, proxy_client, arguments)
    assert b"pip install requests" not in raw and b"then" not in raw  # the arguments never reach the app
    assert [(f["code"], arguments[slice(*f["span"])]) for f in findings] == [("package.missing", "flaskk-jwt-toolz-9q")]


def test_imports_in_code_sent_as_a_json_string_are_read(fake, proxy_client):
    """A code-running tool's source: the made-up import is found, the real one is not flagged."""
    arguments = json.dumps({"language": "python", "code": "import requests\nimport flaskk_jwt_toolz_9q\nprint(1)"})
    raw, findings = _blocked(fake, proxy_client, arguments)
    assert b"print(1)" not in raw
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
        (
            {"path": "package.json", "content": json.dumps({"dependencies": {"expresss-jwtz": "1.0.0"}}, indent=2)},
            ["expresss-jwtz"],
        ),
    ],
)
def test_strings_sent_to_a_tool_are_read_as_code(arguments, found):
    """Files a tool writes and code it runs: manifests and imports, each at its raw span."""
    raw = json.dumps(arguments)
    view = arguments_view(raw)
    refs = extract(view.text, string_blocks(view)).refs
    assert [raw[slice(*view.raw_span(*r.span))] for r in refs] == [r.name for r in refs] == found


@pytest.mark.parametrize(
    "arguments",
    [
        {"code": "import requests\nimport flaskk_jwt_toolz_9q\nprint(1)"},  # imports, no install word
        {"cmd": "p\u0069p install flaskk-jwt-toolz-9q && echo done"},  # the tool's name behind an escape
    ],
)
def test_streamed_tool_arguments_are_checked_whole(fake, blocking_proxy, arguments):
    """Streamed in 4-character chunks, the arguments are read as the whole JSON text they form."""
    from tests.proxy.test_nothing_flagged import _tool_call_deltas

    raw = json.dumps(arguments).replace("pip", "p\\u0069p")
    pieces = [raw[i : i + 4] for i in range(0, len(raw), 4)]
    fake.reset(lambda body: Reply(events=_tool_call_deltas(pieces)))
    body = {"model": "m", "messages": [{"role": "user", "content": "q"}], "stream": True}
    r = httpx.post(blocking_proxy.url + "/v1/chat/completions", json=body, timeout=30)
    sent = [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: {")]
    deltas = [d for e in sent for c in e.get("choices", []) for d in c.get("delta", {}).get("tool_calls", [])]
    received = "".join(d["function"].get("arguments", "") for d in deltas)
    assert "flaskk" not in received and "blocked_by_policy" in r.text, r.text[-400:]
    assert not received.strip(), received  # held whole, so nothing of the arguments went out
