"""Gates (prefilter.py): a superset of a cue pattern, matched by the start index's Hyperscan pass. Every
string the pattern matches in a view, whole or in a range, must be one its superset matches; a section
or entry whose gate stays shut in a view must have no match there."""

from __future__ import annotations

import random
import re

import pytest

from llmvet.validators.uncertainty.cues import load
from llmvet.validators.uncertainty.literals import LiteralScan, available, encoded
from llmvet.validators.uncertainty.prefilter import superset
from llmvet.validators.uncertainty.text import build_views

from .test_alternatives import views
from .test_starts import dev_texts, variants

# Odd corners: characters beyond ASCII where `\w`, `\d`, `\s`, `.`, negated classes and literals meet them,
# repeats of groups, bounds, assertions at a range's end.
HAND_WRITTEN = [
    r"caf\w+(?: [\w'-]+){0,4} ok",
    r"[^.!?\n]{0,80} end\b",
    r"\d{1,3}% (?:sure|certain)(?=[\s.,]|$)",
    r"(?<![\w])x.{2}y",
    r"a\s+\u2014 b",
    r"(?:ab|c[^?]d)+e{2,30}",
    r"(?<=[(\u2014] )from memory(?=[).;,]|$)",
    r"^[ \t>#\u2022-]*(?:\d+[.)][ \t]*)?note:",
    r"(?>at)omic\S\W\D",
]
UNICODE_VIEW = (
    "caf\u00e9 au lait ok. caf\u00e9\u00e9 na\u00efve se\u00f1or ok x\u00e9\u00e9y \u0663\u0660% sure. "
    "a\u2003\u2014 b (\u2014 from memory) abc\u00e9deee \u00e9 end;\n\u2022 1. note: "
    "atomic\u00e9\u2014\u00e9 \u2014 b"
)


def cue_patterns() -> list[tuple[str, re.Pattern[str]]]:
    """Every scanned section and every entry of the statement lists, as the rule path compiles them."""
    cues = load("en")
    assert cues.starts is not None
    out = [(name, rx) for name, rx in cues.indexed]
    out += [(f"{name}#{i}", rx) for name, alts in cues.alternatives.items() for i, (rx, _) in enumerate(alts.entries)]
    return out


def in_superset(expressions: list[bytes], view: str, span: tuple[int, int]) -> bool:
    """Does one of the expressions (also Python patterns, `^` multi-line as the gates are compiled)
    match, in the view as the Hyperscan pass reads it, from at most a few characters before the span
    (what a look-behind asked for) to at most its end?"""
    read = encoded(view).decode("ascii")
    start, end = span
    return any(re.compile(e.decode("ascii"), re.M).search(read, max(0, start - 8), end) for e in expressions)


def texts_to_read() -> list[str]:
    rng = random.Random(17)
    texts = dev_texts()
    out = views(100) + [UNICODE_VIEW]
    out += [build_views(form).prose for text in texts[200:320] for form in variants(text)]
    out += [build_views("\n\n".join(rng.sample(texts, 4))).prose for _ in range(30)]
    return out


def test_every_match_of_a_cue_pattern_is_in_its_superset():
    rng = random.Random(23)
    patterns = cue_patterns() + [(p, re.compile(p, re.M)) for p in HAND_WRITTEN]
    checked = ranged = 0
    for name, rx in patterns:
        expressions = superset(rx.pattern, rx.flags)
        assert expressions is not None, name  # every shipped pattern has a gate
        for view in texts_to_read():
            for m in rx.finditer(view):
                assert in_superset(expressions, view, m.span()), (name, m.group())
                checked += 1
            for _ in range(2):  # a range may end inside a word: `(?!\w)`, `$` hold there, not in the view
                a = rng.randrange(len(view) + 1)
                m = rx.search(view, a, min(len(view), a + rng.randrange(1, 60)))
                if m is not None:
                    assert in_superset(expressions, view, m.span()), (name, m.group())
                    ranged += 1
    assert checked > 2000 and ranged > 100


def test_hand_written_corners_match_on_text_beyond_ascii():
    matched = 0
    for p in HAND_WRITTEN:
        expressions = superset(p, re.M)
        assert expressions is not None
        for m in re.finditer(p, UNICODE_VIEW, re.M):
            assert in_superset(expressions, UNICODE_VIEW, m.span()), (p, m.group())
            matched += 1
    assert matched >= len(HAND_WRITTEN)  # each found something in the view


def test_what_is_not_rewritten_has_no_gate():
    assert superset(r"(a)b\1") is None  # a back-reference
    assert superset(r"(?i)sure") is None and superset(r"x(?i:sure)") is None  # case-insensitive
    assert superset(r"(?:maybe)?") is None and superset(r"(?=sure)") is None  # match the empty string
    assert superset(r"(?:ab){2}") is None  # (a repeated group becomes its class repeated: empty too)
    assert superset(r"(?:ab)+c") == [b"[a-b]*c"]
    assert superset(r"sure") == [b"sure"]
    assert superset(r"i'm\b(?=\s)") == [b"i\\x27m"]  # look-aheads and boundaries match the empty string
    # a look-behind before the match: what it asks for, matched (a negative one: what it allows)
    assert superset(r"(?<=[(] )sure") == [b"(?:\\x28\\x20)sure"]
    assert superset(r"(?<![\w-])sure") == [b"(?:^|[\\x00-\\x2c\\x2e-\\x2f\\x3a-\\x40\\x5b-\\x5e\\x60\\x7b-\\x7f])sure"]
    assert superset(r"(?<!\w)(?:^note|(?<=: )sure)", re.M) == [b"(?:^note|(?:\\x3a\\x20)sure)"]


def test_a_dot_under_dotall_keeps_its_newline_in_the_gate():
    # A policy's extra cues may set re.S: the gate must still open where `.` matched a newline.
    view = "i am not sure\nabout this"
    for pattern, flags in ((r"(?s)not sure.about", 0), (r"not sure.about", re.S)):
        match = re.compile(pattern, flags).search(view)
        expressions = superset(pattern, flags)
        assert match is not None and expressions is not None
        assert in_superset(expressions, view, match.span())
    assert not in_superset(superset(r"not sure.about") or [], "i am not sure, right", (0, 20))


def test_a_long_alternation_is_split_into_expressions_that_cover_it():
    words = [f"word{i:04d} (?:one|two) thing" for i in range(600)]
    pattern = "(?<!\\w)(?:" + "|".join(words) + ")(?!\\w)"
    expressions = superset(pattern)
    assert expressions is not None and len(expressions) > 1
    assert all(len(e) <= 8000 for e in expressions)
    for i in (0, 299, 599):
        found = f"word{i:04d} two thing"
        assert in_superset(expressions, found, (0, len(found)))
    assert not in_superset(expressions, "word0600 two thing", (0, 18))


@pytest.mark.skipif(not available(), reason="no pyperscan")
def test_sections_and_entries_whose_gates_stay_shut_cannot_match():
    cues = load("en")
    assert cues.starts is not None and cues.starts.literal is not None and cues.starts.literal.gated
    entries = {name: alts.entries for name, alts in cues.alternatives.items()}
    assert set(entries) <= cues.gated and len(cues.gated) >= 20
    rng = random.Random(29)
    shut = opened_count = 0
    for view in texts_to_read():
        table = cues.starts.starts(view)
        opened = table.opened()
        assert opened is not None
        narrowed = cues.for_text(view)
        for name, rx in cues.indexed:
            if name in opened:
                opened_count += 1
                continue
            shut += 1
            assert narrowed.patterns[name] is None, name  # skipped for the view
            assert rx.search(view) is None, (name, view)
            for _ in range(3):
                a = rng.randrange(len(view) + 1)
                assert rx.search(view, a, min(len(view), a + rng.randrange(1, 80))) is None, (name, view)
        for name, listed in entries.items():
            for i, (rx, _) in enumerate(listed):
                if (name, i) not in opened:
                    assert rx.search(view) is None, (name, i, view)
    assert shut > 2000 and opened_count > 500  # both paths were taken


@pytest.mark.skipif(not available(), reason="no pyperscan")
def test_a_gate_hyperscan_does_not_take_leaves_the_scan_without_gates():
    scan = LiteralScan({"sure": {"a"}}, gates=[(b"(unclosed", ("a",))])
    assert not scan.gated
    grouped, _, opened = scan.scan("i'm sure.")
    assert grouped == {"a": [[4]]} and opened == set()
    gated = LiteralScan({"sure": {"a"}}, gates=[(b"su+re", ("a",)), (b"never", ("b", ("b", 0)))])
    assert gated.gated and gated.scan("i'm suure, sure.")[2] == {"a"}


# A wide repeat (the space and most letters, unbounded) that a short word starts, with enough after it.
WIDE = [
    r"(?:the|my)(?: [\w-]+)* (?:rates|dates) (?:is|are) unverified",
    r"(?<!\w)(?:this|that|(?:the|my)(?: [\w-]+)* figures) (?:may be|is) wrong",
]
WIDE_VIEW = (
    "Note: the quoted mortgage rates are unverified. My dates is unverified; the rates are unverified\n"
    "That may be wrong, and the two latest sales figures is wrong. Athat is wrong. My figures may be wrong."
)


def test_a_wide_repeat_a_short_word_starts_is_left_out_of_the_gate():
    # (Hyperscan kept the repeat's states alive after every "the": the gate is the part each match ends with)
    assert superset(WIDE[0]) == [b"\\x20(?:rates|dates)\\x20(?:is|are)\\x20unverified"]
    behind = b"(?:^|[\\x00-\\x2f\\x3a-\\x40\\x5b-\\x5e\\x60\\x7b-\\x7f])"  # (what `(?<!\w)` allows)
    assert superset(WIDE[1]) == [
        b"(?:" + behind + b"this|" + behind + b"that|\\x20figures)\\x20(?:may\\x20be|is)\\x20wrong"
    ]
    # kept whole: a class without most letters, a longer start, a sentence's start, too little after the repeat
    assert superset(r"(?:the|my)[a-m ]* dates is unverified") == [
        b"(?:the|my)[\\x20a-m]*\\x20dates\\x20is\\x20unverified"
    ]
    long_start = superset(r"i would not trust[\w ]* the numbers")
    assert long_start is not None and long_start[0].startswith(b"i\\x20would\\x20not\\x20trust[")
    sentence = superset(r"(?<=[(,;] )[\w' ,-]* from memory")
    assert sentence is not None and sentence[0].startswith(b"(?:[\\x28\\x2c\\x3b]\\x20)[")
    assert superset(r"(?:the|my)(?: [\w-]+)* ok") == [b"(?:the|my)[\\x20\\x2d0-9\\x3fA-Z\\x5fa-z]*\\x20ok"]


def test_a_cut_gate_still_opens_wherever_its_pattern_matches():
    found = 0
    for p in WIDE:
        expressions = superset(p)
        assert expressions is not None
        for view in (WIDE_VIEW, WIDE_VIEW.lower(), UNICODE_VIEW + " " + WIDE_VIEW):
            for m in re.finditer(p, view, re.M):
                assert in_superset(expressions, view, m.span()), (p, m.group())
                found += 1
    assert found >= 12
