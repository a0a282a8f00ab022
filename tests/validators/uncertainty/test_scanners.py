"""A list without its scanning entries (scanners.py) must answer as the whole list wherever the text has none
of their words: on every sentence of the corpora and on generated ones, for the shipped lists and made-up ones."""

from __future__ import annotations

import random
import re

import pytest

from llmvet.validators.uncertainty.alternatives import WRAP
from llmvet.validators.uncertainty.cues import LIST_SECTIONS, load, shipped_path
from llmvet.validators.uncertainty.cues import _parts as parts_of
from llmvet.validators.uncertainty.cues import read_cue_file as read_cues
from llmvet.validators.uncertainty.hits import SENTENCE
from llmvet.validators.uncertainty.scanners import lean, split_entries
from llmvet.validators.uncertainty.text import build_views
from tests.support.corpus import corpus_texts

WORDS = ["please", "call", "a", "hotline", "helpline", "988", "suicide", "crisis line", "crisis", "x", "remember,"]
WORDS += ["it's important to", "you're not alone", "if you", "i can", "help", "lines", "hotlines", ",", "-", "9880"]


def list_entries(section: str) -> list[str]:
    data = read_cues(shipped_path("en"))
    macros = {k: str(v) for k, v in (data.get("macros") or {}).items()}
    return parts_of(list(data.get(section) or []), macros, section)


@pytest.mark.parametrize("section", ["refusal_filler", "refusal_support", "refusal_alternative", "hedge", "refusal"])
def test_a_compiled_list_splits_into_its_entries(section):
    rx = load("en").get(section)
    assert isinstance(rx, re.Pattern)
    body = rx.pattern[len("(?<!\\w)(?:") : -len(")(?:(?<!\\w)|(?!\\w))")]
    entries = split_entries(body)
    if section == "refusal":  # grouped by first characters (cues.GROUPED): not a join of its entries
        assert entries is None and lean(rx) is None
        return
    assert entries == list_entries(section) and len(entries) >= 3


def test_only_the_support_list_has_a_scanning_entry():
    cues = load("en")
    leaned = {s for s in LIST_SECTIONS if lean(cues.get(s)) is not None}
    assert leaned == {"refusal_support"}
    split = lean(cues.get("refusal_support"))
    assert split is not None and split.rx is not None
    assert "hotline" in split.needs and "988" in split.needs
    assert (
        len(split_entries(split.rx.pattern[len("(?<!\\w)(?:") : -len(")(?:(?<!\\w)|(?!\\w))")]) or [])
        == len(list_entries("refusal_support")) - 1
    )


def sentences() -> list[str]:
    out = []
    for text in corpus_texts()[::2]:
        prose = build_views(text).prose
        out += [m.group().strip() for m in SENTENCE.finditer(prose) if m.group().strip()]
    rng = random.Random(7)
    out += [
        " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 8))) + rng.choice([".", "", "!"]) for _ in range(4000)
    ]
    return out


def check(rx: re.Pattern[str], texts: list[str]) -> tuple[int, int]:
    """Compare the lean list with the whole one where it is used; returns (texts used, matches seen)."""
    split = lean(rx)
    assert split is not None
    used = seen = 0
    for text in texts:
        whole = rx.match(text) is not None
        seen += whole
        if split.may_scan(text):
            continue
        used += 1
        assert (split.rx is not None and split.rx.match(text) is not None) == whole, text
        assert (split.rx is not None and split.rx.search(text) is not None) == (rx.search(text) is not None), text
    return used, seen


def test_the_support_list_answers_as_the_whole_where_its_words_are_missing():
    texts = sentences()
    used, seen = check(load("en").get("refusal_support"), texts)  # type: ignore[arg-type]
    assert used > 1000 and seen > 200
    # and where they are present, the whole list is kept: its scanning entry matches there
    split = lean(load("en").get("refusal_support"))
    assert split is not None
    assert any(split.may_scan(t) and not (split.rx and split.rx.match(t)) for t in texts)


@pytest.mark.parametrize("seed", [1, 2])
def test_made_up_lists_answer_as_the_whole(seed):
    rng = random.Random(seed)
    entries = ["[^.!?\\n]*(?:foo|b[ae]r)", "baz", "(?:qux )?[a-z]{0,40}?zap", "x*y", ".{0,80}(?:\u00e9t\u00e9|z)"]
    rx = re.compile(WRAP.format("|".join(f"(?:{e})" for e in entries)), re.M)
    pieces = ["foo", "bar", "ber", "baz", "qux ", "zap", "y", "x", "xy", " ", ".", "\n", "\u00e9t\u00e9", "z", "fo"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 12))) for _ in range(6000)]
    split = lean(rx)
    assert split is not None and {"foo", "z", "y"} <= set(split.needs)
    used, seen = check(rx, texts)
    assert used > 500 and seen > 500
    everything = re.compile(WRAP.format("(?:[^.]*foo)|(?:.*bar)"), re.M)
    only = lean(everything)
    assert only is not None and only.rx is None and not only.may_scan("no such words")


def test_lists_that_cannot_be_split_safely_are_left_whole():
    assert lean(None) is None
    assert lean(re.compile(WRAP.format("(?:[^.]*(a)\\1)|(?:b)"))) is None  # a group reference
    assert lean(re.compile("[^.]*(?:foo)")) is None  # not a compiled list
    assert lean(re.compile(WRAP.format("(?:[^.]*foo)|(?:[^.]*\\w)"))) is not None
    assert lean(re.compile(WRAP.format("(?:[^.]*\\w)"))) is None  # no string every match holds
    assert split_entries("(?:a|b)|(?:[|)]c)|(?:\\|d)") == ["a|b", "[|)]c", "\\|d"]
    assert split_entries("(?:a)b|(?:c)") is None
    assert split_entries("(?:[]|]x)|(?:[^]|]y)") == ["[]|]x", "[^]|]y"]
    assert split_entries("(?:a\\()|(?:b\\))|(?:[\\]|)]c)|(?:d)") == ["a\\(", "b\\)", "[\\]|)]c", "d"]  # escapes


def test_strings_are_looked_for_in_any_text():
    """Strings are looked for in the text itself: a non-ASCII one is found, one a soft hyphen breaks is not."""
    accented = lean(re.compile(WRAP.format("(?:[^.]*\u00e9t\u00e9)|(?:b)")))
    assert accented is not None
    assert accented.may_scan("un \u00e9t\u00e9 chaud") and not accented.may_scan("un ete chaud")
    plain = lean(re.compile(WRAP.format("(?:[^.]*hotline)|(?:b)")))
    assert plain is not None
    assert plain.may_scan("call the \u2014 hotline") and not plain.may_scan("call the \u2014 hot\u00adline")


def test_the_validator_works_out_the_lean_lists_when_it_loads_its_cues():
    """Not in the first refused answer it reads (~12 ms once: a serving process's first answers)."""
    from llmvet.validators.uncertainty import UncertaintyValidator
    from llmvet.validators.uncertainty.scanners import _lean

    _lean.cache_clear()
    validator = UncertaintyValidator(UncertaintyValidator.Config(embeddings=False))
    misses = _lean.cache_info().misses
    assert misses >= 3
    for section in ("refusal_filler", "refusal_support", "refusal_alternative"):
        lean(validator.cues.get(section))
    assert _lean.cache_info().misses == misses
