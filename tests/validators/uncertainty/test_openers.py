"""openers.py: a pattern's match at a text's start must begin with one of the heads read from its parse tree,
for the lists refusals._Asides matches (whole and lean) and for made-up patterns, on the corpora's sentences
and generated ones."""

from __future__ import annotations

import random
import re

import pytest

from llmvet.validators.uncertainty.cues import load
from llmvet.validators.uncertainty.hits import SENTENCE
from llmvet.validators.uncertainty.openers import Openers, openers
from llmvet.validators.uncertainty.scanners import lean
from llmvet.validators.uncertainty.text import build_views
from tests.support.corpus import corpus_texts

ASIDES = ("refusal_filler", "refusal_support", "refusal_alternative")
WORDS = ["i", "i'm", "sorry", "if", "you", "would", "like", "please", "call", "a", "hotline", "remember,", "instead,"]
WORDS += ["it's", "important", "to", "alternatives", "**", "#", "- ", "ab", "abc", "x", "9", ",", "there", "here's"]
MADE_UP = [
    r"abc|abd",
    r"(?:x|yz)?q",
    r"a{2,3}b",
    r"(?<!\w)(?:foo|bar)\b",
    r"[a-c]d|e",
    r"(?:ab)*c",
    r"a(?:b|c\w+)d",
    r"\d+ items",
    r"^(?:#+ )?note",
    r"(?:un)?(?:sure|certain)",
    r"[^.]*x",
    r"x?",
    r"(?i:ab)c",
]


def sentences() -> list[str]:
    out = []
    for text in corpus_texts()[::3]:
        prose = build_views(text).prose
        out += [s for m in SENTENCE.finditer(prose) if (s := m.group().strip())]
    rng = random.Random(11)
    out += [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6))) for _ in range(4000)]
    out += ["".join(rng.choice("abcdexyzq ") for _ in range(rng.randint(1, 8))) for _ in range(4000)]
    return out


def check(rx: re.Pattern[str], texts: list[str]) -> int:
    """Every text `rx` matches at its start passes the test; returns how many texts the test turns away."""
    heads = openers(rx)
    if heads is None:
        return 0
    skipped = 0
    for text in texts:
        if heads.may_match(text):
            continue
        skipped += 1
        assert rx.match(text) is None, (rx.pattern, text)
    return skipped


def test_the_asides_lists_have_heads_that_turn_most_sentences_away():
    cues = load("en")
    texts = sentences()
    for section in ASIDES:
        rx = cues.get(section)
        assert isinstance(rx, re.Pattern)
        split = lean(rx)
        # (the whole support list begins with a run of any characters: its lean list has heads)
        pattern = rx if split is None else split.rx
        assert isinstance(pattern, re.Pattern) and openers(pattern) is not None, section
        assert check(pattern, texts) > len(texts) // 3, section
        assert (openers(rx) is None) == (section == "refusal_support")
        check(rx, texts)


@pytest.mark.parametrize("pattern", MADE_UP)
def test_made_up_patterns(pattern):
    check(re.compile(pattern, re.M), sentences()[-8000:])


def test_what_is_not_known():
    assert openers(re.compile(r"[^.]*x")) is None  # (may begin with anything)
    assert openers(re.compile(r"x?")) is None  # (may match empty)
    assert openers(re.compile(r"ab", re.I)) is None
    assert openers(re.compile(r"(?i:ab)c")) is None
    assert openers("ab") is None  # (not a compiled pattern)
    heads = openers(re.compile(r"a\w+|bc"))
    assert heads is not None and heads.may_match("ax") and heads.may_match("bcd")
    assert not heads.may_match("b") and not heads.may_match("") and not heads.may_match("xa")


def test_heads_are_cut_to_the_span():
    heads = openers(re.compile(r"(?:abcdefghijkl|b)"))
    assert isinstance(heads, Openers)
    assert heads.may_match("abcdefghzz") and heads.may_match("b") and not heads.may_match("abcdefgz")
