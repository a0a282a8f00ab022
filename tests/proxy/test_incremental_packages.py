"""packages on an incremental stream: lines (code-block lines too) go out once checked, a hallucinated
name never does, and its registry lookup starts as soon as the name is complete, before its line ends."""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

import httpx
import orjson
import pytest

from tests.proxy.test_incremental import data_events
from tests.proxy.test_nothing_flagged import _chunk
from tests.support.fake_registry import running_registry
from tests.support.fake_upstream import Reply

FAKE = "fastyamlparserx"  # on no registry
ANSWER = (
    "Here is how to read the settings file.\n"
    "```python\n"
    "import yaml\n"
    "import requests\n"
    f"import {FAKE}\n"
    "print(yaml.safe_load(open('settings.yaml')))\n"
    "```\n"
    "That is all.\n"
)


@pytest.fixture(scope="module")
def registry():
    with running_registry() as reg:
        yield reg


def policy(reg: Any) -> str:
    return f"""
rules:
  - name: packages
    stream: {{mode: incremental}}
    validators:
      - use: packages
        with: {{pypi_index_url: "{reg.url}/simple", pypi_json_url: "{reg.url}/pypi", ecosystems: [pypi]}}
    on_fail: block
"""


def events_split_at(text: str, cuts: list[int]) -> list[Any]:
    edges = [0, *sorted(set(cuts)), len(text)]
    pieces = [text[a:b] for a, b in itertools.pairwise(edges) if b > a]
    return [_chunk({"role": "assistant", "content": ""}), *(_chunk({"content": p}) for p in pieces), _chunk({}, "stop")]


def stream_text(proxy: Any) -> httpx.Response:
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "read yaml"}]}
    return httpx.post(proxy.url + "/v1/chat/completions", json=body, timeout=30)


def delivered_text(raw: bytes) -> str:
    return "".join(
        c["delta"].get("content") or ""
        for e in data_events(raw)
        if isinstance(e, dict)
        for c in e.get("choices") or []
        if "delta" in c
    )


@pytest.mark.parametrize("offset", range(-2, len(FAKE) + 3))
def test_a_hallucinated_import_split_anywhere_never_goes_out(fake, make_proxy, registry, offset):
    proxy = make_proxy(policy(registry))
    at = ANSWER.index(FAKE) + offset
    # every line boundary is also a cut, so lines before the bad one are released one by one
    cuts = [at, *(i + 1 for i, c in enumerate(ANSWER) if c == "\n")]
    fake.reset(lambda b: Reply(events=[*events_split_at(ANSWER, cuts), "[DONE]"], chunk_delay=0.002))
    r = stream_text(proxy)
    # no piece of the name, not even its line's start, before the final `llmvet` field that names the finding
    assert FAKE[:6].encode() not in r.content.split(b'"llmvet":')[0]
    text = delivered_text(r.content)
    before = ANSWER[: ANSWER.index(f"import {FAKE}")]
    assert before.startswith(text) and (not text or text.endswith("\n"))  # whole lines only, code lines included
    if r.status_code == 200:  # text went out first (events that arrive together are checked together)
        events = data_events(r.content)
        reasons = [c.get("finish_reason") for e in events if isinstance(e, dict) for c in e["choices"]]
        assert "content_filter" in reasons and events[-1] == "[DONE]"
    else:
        assert r.status_code == 422


def test_code_block_lines_flow_before_the_block_closes(fake, make_proxy, registry):
    proxy = make_proxy(policy(registry))
    clean = ANSWER.replace(f"import {FAKE}\n", "")
    lines = clean.splitlines(keepends=True)
    events = [_chunk({"role": "assistant", "content": ""}), *(_chunk({"content": ln}) for ln in lines)]
    fake.reset(lambda b: Reply(events=[*events, _chunk({}, "stop"), "[DONE]"], chunk_delay=0.15))
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "read yaml"}]}
    seen, finished_when_import_arrived = b"", None
    with httpx.stream("POST", proxy.url + "/v1/chat/completions", json=body, timeout=30) as r:
        for chunk in r.iter_raw():
            seen += chunk
            if finished_when_import_arrived is None and b"import requests" in seen:
                finished_when_import_arrived = fake.streams_finished
    assert finished_when_import_arrived == 0  # a line inside the open block reached the client mid-stream
    assert delivered_text(seen) == clean


def test_prose_flows_word_by_word_and_a_command_line_waits_for_its_end(fake, make_proxy, registry):
    proxy = make_proxy(policy(registry))
    text = "Rivers run north past old mills and quiet farms.\nThen run pip install requests to fetch pages.\n"
    words = text.replace("\n", "\n ").split(" ")
    events = [_chunk({"role": "assistant", "content": ""}), *(_chunk({"content": w + " "}) for w in words if w)]
    fake.reset(lambda b: Reply(events=[*events, _chunk({}, "stop"), "[DONE]"], chunk_delay=0.06))
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "rivers"}]}
    seen, when_first_word, when_requests = b"", None, None
    with httpx.stream("POST", proxy.url + "/v1/chat/completions", json=body, timeout=30) as r:
        for chunk in r.iter_raw():
            seen += chunk
            got = delivered_text(seen)
            if when_first_word is None and "Rivers" in got:
                when_first_word = (fake.streams_finished, "mills" in got)
            if when_requests is None and "requests" in got:
                when_requests = (fake.streams_finished, "pages" in got)
    assert when_first_word == (0, False)  # the first word went out before the line was complete
    assert when_requests is not None and when_requests[1]  # the command went out with its whole line
    assert delivered_text(seen).replace(" ", "") == text.replace(" ", "")


def test_the_lookup_starts_when_the_name_is_complete_not_when_the_line_is(fake, make_proxy, registry):
    proxy = make_proxy(policy(registry))
    name = "fastyamlparserz"  # not looked up by an earlier test: no cached answer
    words = f"To install it run pip install {name} and then start it with the defaults you like".split(" ")
    events = [_chunk({"role": "assistant", "content": ""}), *(_chunk({"content": w + " "}) for w in words)]
    fake.reset(lambda b: Reply(events=[*events, _chunk({}, "stop"), "[DONE]"], chunk_delay=0.08))
    samples: list[tuple[int, int]] = []  # (upstream streams finished, registry hits for the name)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            hits = sum(n for path, n in registry.hits.items() if name in path)
            samples.append((fake.streams_finished, hits))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        r = stream_text(proxy)
    finally:
        done.set()
        sampler.join()
    # the words before the command went out as they came; from the tool's name on, the line was held
    assert name.encode() not in r.content.split(b'"llmvet":')[0]
    assert delivered_text(r.content) == "To install it run "
    # the registry was asked while the upstream was still sending the rest of the line
    assert any(hits and not finished for finished, hits in samples)


def findings_of(llmvet_field: dict) -> set[tuple[str, str]]:
    return {(f["code"], f["evidence"].get("name", "")) for f in llmvet_field.get("findings") or []}


def test_streamed_answers_get_the_findings_buffered_ones_get(fake, make_proxy, registry):
    """The hand-written realistic answers, cut into 7-character events: word-by-word release and
    line windows find what the whole answer checked at once finds (negations, code blocks, manifests)."""
    from tests.support import DATA

    proxy = make_proxy(policy(registry).replace("on_fail: block", "on_fail: annotate"))
    items = [orjson.loads(line) for line in (DATA / "packages" / "realistic.jsonl").read_text().splitlines()]
    differ = []
    for i, item in enumerate(items):
        text = item["text"]
        pieces = [text[k : k + 7] for k in range(0, len(text), 7)]
        events = [_chunk({"role": "assistant", "content": ""}), *(_chunk({"content": p}) for p in pieces)]
        fake.reset(
            lambda b, ev=events, t=text: (
                Reply(events=[*ev, _chunk({}, "stop"), "[DONE]"]) if b.get("stream") else Reply(text=t)
            )
        )
        body = {"model": "m", "messages": [{"role": "user", "content": "help"}]}
        buffered = httpx.post(proxy.url + "/v1/chat/completions", json=body, timeout=30).json().get("llmvet", {})
        streamed = httpx.post(proxy.url + "/v1/chat/completions", json={**body, "stream": True}, timeout=30)
        last = [e for e in data_events(streamed.content) if isinstance(e, dict) and "llmvet" in e]
        assert delivered_text(streamed.content) == text  # annotate: the whole answer goes out
        if findings_of(buffered) != findings_of(last[-1]["llmvet"] if last else {}):
            differ.append((i, findings_of(buffered), findings_of(last[-1]["llmvet"] if last else {})))
    assert differ == []
