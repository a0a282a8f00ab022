"""The regex validator reads tool-call arguments as the app's JSON parser will: an escaped character
inside a key (`AKIA\\u0049...`) does not hide it, and spans point into the raw arguments."""

from __future__ import annotations

import json

import pytest

from llmvet.policy.loader import BUNDLED_POLICIES, load_policy
from llmvet.validators.base import Context, Status
from llmvet.validators.regex import RegexValidator

KEY = "AKIA" + "IOSFODNN7EXAMPLE"  # assembled so this file does not itself look like a leaked key


def _default_secrets() -> RegexValidator:
    rule = load_policy(BUNDLED_POLICIES / "default.yaml").rules[0]
    return next(cv.instance for cv in rule.validators if isinstance(cv.instance, RegexValidator))


def _escaped(key: str, at: int) -> str:
    """`key` with its character `at` written as a \\u escape, inside JSON arguments."""
    return (
        json.dumps({"cmd": f"export AWS_ACCESS_KEY_ID={key[:at]}"})[:-2]
        + f"\\u{ord(key[at]):04x}{key[at + 1 :]}"
        + '"}'
    )


@pytest.mark.parametrize("at", range(len(KEY)))
async def test_a_key_with_any_character_escaped_is_found_at_its_raw_span(at):
    raw = _escaped(KEY, at)
    assert json.loads(raw)["cmd"].endswith(KEY) and KEY not in raw  # what the app reads, what was sent
    verdict = await _default_secrets().check(Context(text=raw, part_kind="tool_arguments"))
    assert verdict.status is Status.FAILED
    [finding] = verdict.findings
    assert finding.span is not None
    assert json.loads(f'"{raw[slice(*finding.span)]}"') == KEY  # the raw span writes exactly the key
    assert KEY not in json.dumps(finding.to_dict())  # the evidence stays redacted


async def test_escapes_are_read_only_in_tool_call_arguments():
    """Prose that shows an escape (a code sample about JSON) is not a key written in it."""
    raw = _escaped(KEY, 4)
    verdict = await _default_secrets().check(Context(text=raw, part_kind="content"))
    assert verdict.status is Status.PASSED


async def test_escaped_arguments_without_a_key_pass():
    raw = json.dumps({"note": "AKIA is a prefix \u2014 keys are 20 characters", "path": "C:\\new"})
    assert "\\u2014" in raw
    verdict = await _default_secrets().check(Context(text=raw, part_kind="tool_arguments"))
    assert verdict.status is Status.PASSED, verdict.findings


def test_a_stream_window_hiding_a_key_behind_an_escape_is_not_called_clean():
    secrets = _default_secrets()
    window = "AKIA\\u0049OSFODNN7EXAMPLE "
    assert secrets.stream_clean("AKIA is a prefix ")
    assert not secrets.stream_clean(window)
