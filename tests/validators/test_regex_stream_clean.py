"""The regex validator's cheap stream check answers as RE2 would, for windows of every length: its
shortcut (windows shorter than any match are clean) never skips a window that holds a match."""

from __future__ import annotations

import itertools

import pytest

from llmvet.validators.regex import RegexConfig, RegexValidator, shortest_match

PATTERNS = [
    r"\bAKIA[0-9A-Z]{16}\b",
    "[[:digit:]]{3}",  # a POSIX class: one character to RE2, a set and a "]" to Python's parser
    r"\pL{2}\d",  # RE2-only syntax
    "a{,3}b",  # "{,3}" is literal to RE2, a quantifier to Python
    "(?i)straße",
    "x*y",
    "-----BEGIN (?:RSA )?PRIVATE KEY-----",
]
WINDOWS = [
    "AKIAQWERTYUIOPASDFGH",
    "AKIAQWERTYUIOPASDFG",
    " AKIAQWERTYUIOPASDFGH ",
    "123",
    "12",
    "ab1",
    "é1",
    "a{,3}b",
    "ab",
    "b",
    "STRASSE",
    "STRAßE",
    "y",
    "-----BEGIN PRIVATE KEY-----",
    "-----BEGIN RSA PRIVATE KEY-----",
    "river ",
    "",
]


@pytest.mark.parametrize("patterns", [[p] for p in PATTERNS] + [PATTERNS[:1] + PATTERNS[-1:]])
def test_stream_clean_agrees_with_re2_on_every_window(patterns):
    v = RegexValidator(RegexConfig(must_not_match=patterns))
    for window in WINDOWS + ["".join(w) for w in itertools.combinations(WINDOWS[:6], 2)]:
        assert v.stream_clean(window) == (v._any_forbidden.search(window) is None), (patterns, window)


def test_shortest_match_is_a_lower_bound_or_unknown():
    assert shortest_match([r"\bAKIA[0-9A-Z]{16}\b", "-----BEGIN (?:RSA )?PRIVATE KEY-----"]) == 20
    assert shortest_match(["[[:digit:]]{3}"]) == 0 and shortest_match([r"\pL+"]) == 0
    assert shortest_match(["x*", "abc"]) == 0 and shortest_match([]) == 0
