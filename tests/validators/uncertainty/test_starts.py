"""Start indexes (starts.py, covers.py) try a cue pattern only where it can start: every scan through one
must find exactly what Python's `re` finds scanning every position."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from llmvet.validators.uncertainty.covers import after_nonword, cover
from llmvet.validators.uncertainty.cues import SCANNED, load
from llmvet.validators.uncertainty.literals import available
from llmvet.validators.uncertainty.runs import DIGIT_START, _occurrences, digit_starts
from llmvet.validators.uncertainty.runs import by_prefix as _by_prefix
from llmvet.validators.uncertainty.runs import prefixed_occurrences as _prefixed_occurrences
from llmvet.validators.uncertainty.starts import Indexed, StartIndex
from llmvet.validators.uncertainty.text import build_views

DEV = Path(__file__).resolve().parents[2] / "data" / "uncertainty" / "dev.jsonl"
# Each start index is checked three ways: its keys found by Hyperscan (literals.py, where installed) in
# the pass over the view, or (where the pass has gates) by each name's own database when it is asked for,
# and by its own pass over the view's words.
_HYPERSCAN = pytest.mark.skipif(not available(), reason="no pyperscan")
BOTH = pytest.mark.parametrize(
    "literal",
    [pytest.param(True, marks=_HYPERSCAN), pytest.param("by name", marks=_HYPERSCAN), False],
    ids=["in the pass", "by name", "word pass"],
)
_NO_GATE = [(b"zq+", ("zq",))]  # a gate that opens no section: the keys leave the pass all the same


def start_index(patterns: dict[str, re.Pattern[str]], literal: bool | str) -> StartIndex:
    """`patterns`' start index, its keys found as BOTH's parameter says."""
    index = StartIndex(patterns, literal_scan=bool(literal), gates=_NO_GATE if literal == "by name" else ())
    assert index.literal is None or (literal and index.literal.lazy == (literal == "by name"))
    return index


def dev_texts() -> list[str]:
    return [json.loads(line)["text"] for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]


def variants(text: str) -> list[str]:
    """The text and non-ASCII forms of it (the Hyperscan key pass reads non-ASCII characters as stand-ins)."""
    return [
        text,
        text.replace("'", "\u2019").replace("e", "\u00e9", 3),
        text.replace(" ", " \u2014 ", 2).replace("1", "\u0663"),  # an em dash, an Arabic-Indic digit
    ]


def check_view(index: StartIndex, patterns: dict[str, re.Pattern[str]], view: str, rng: random.Random) -> int:
    """Compare every indexed pattern's scans of `view` with plain `re`; returns the matches compared."""
    table = index.starts(view)
    seen = 0
    for name in index.indexed:
        rx = patterns[name]
        fast = Indexed(rx, view, table, name)
        full = [m.span() for m in rx.finditer(view)]
        if name not in table.live():  # (asked before its list is made) skipped by CueSet.for_text: must not match
            assert full == [] and table.of(name) == [], (name, view)
            for _ in range(3):
                a = rng.randrange(len(view) + 1)
                assert rx.search(view, a, min(len(view), a + rng.randrange(1, 400))) is None, (name, view)
        assert [m.span() for m in fast.finditer(view)] == full, (name, view)
        seen += len(full)
        for _ in range(3):  # ranged scans (the exclusion lists are searched near a span) and searches
            a = rng.randrange(len(view) + 1)
            b = min(len(view), a + rng.randrange(1, 400))
            assert [m.span() for m in fast.finditer(view, a, b)] == [m.span() for m in rx.finditer(view, a, b)]
            if not fast.can_start_in(view, a, b):
                assert rx.search(view, a, b) is None, (name, view[a:b])
    return seen


def test_every_shipped_section_the_rule_path_scans_is_indexed():
    cues = load("en")
    assert cues.starts is not None
    assert cues.starts.indexed >= SCANNED  # else a section silently keeps its slow scan
    narrowed = cues.for_text(build_views("Caf\u00e9 \u2014 I'm not sure, it may vary.").prose)
    for s in SCANNED:
        p = narrowed.patterns[s]
        assert p is None or isinstance(p, Indexed), s


def test_sections_without_a_start_in_the_view_are_skipped_and_cannot_match():
    cues = load("en")
    skipped = kept = 0
    for text in dev_texts()[:300]:
        views = build_views(text.replace("'", "\u2019"))
        for view in (views.prose, views.comments):
            narrowed = cues.for_text(view)
            for name in sorted(SCANNED):
                rx = cues.patterns[name]
                if narrowed.patterns[name] is None:
                    skipped += 1
                    assert isinstance(rx, re.Pattern) and rx.search(view) is None, (name, view)
                else:
                    kept += 1
    assert skipped > 1000 and kept > 300  # both paths were taken


def test_digit_and_word_led_sections_are_live_only_with_a_digit_or_their_literal():
    cues = load("en")
    assert cues.starts is not None
    led = set(cues.starts.digit) | set(cues.starts.word)
    plain = cues.for_text("the build passes on linux and mac.")  # no digit: most of them cannot start
    assert len([n for n in led if plain.patterns[n] is None]) >= 4
    text = "the build passes on linux 6 cores and mac 14 (90% of runs) [1]."
    assert led <= cues.starts.starts(text).live()
    digits = cues.for_text(text)  # (less those none of whose strings the text holds: test_gates.py)
    opened = cues.starts.starts(text).opened()  # (and those whose gates stay shut: test_prefilter.py)
    shut = set() if opened is None else cues.gated - opened
    assert {n for n in led if digits.patterns[n] is not None} == led - set(cues.needs) - shut


@pytest.mark.parametrize("seed", [1, 2])
def test_digit_starts_are_where_the_digit_regex_matches(seed):
    """`digit_starts` reads ASCII through a translated copy and asks the regex next to anything else: non-ASCII
    digits ("\u0663") and word characters ("\u00e9", "\u00b2") before a digit, "?" (what the copy has for
    both), a digit at the very start."""
    rng = random.Random(seed)
    pieces = ["1", "22", "a", "b1", "_", "_3", " ", "\n", "?", "?4", "\u00e9", "\u00e95", "\u00b2", "\u0663"]
    pieces += ["x\u0663", " \u06634", "\u2014", "\u20147", "-", ".9", "Z0", "\t", "\u00a0", "\u2028", "\ud800", "9"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 14))) for _ in range(6000)]
    found = 0
    for text in texts + [t for t in dev_texts() for t in variants(t)][:600]:
        expected = [m.start() for m in DIGIT_START.finditer(text)]
        assert digit_starts(text) == expected, repr(text)
        # (the view as the caller encoded it: text.Views.prose_data, shared with the start pass)
        assert digit_starts(text, text.encode("ascii", "replace")) == expected, repr(text)
        found += len(expected)
    assert found > 5000


@BOTH
def test_indexed_scans_equal_full_scans_on_real_answers(literal):
    cues = load("en")
    assert cues.starts is not None
    patterns = {k: v for k, v in cues.patterns.items() if isinstance(v, re.Pattern)}
    index = start_index(patterns, literal)  # every section, not only the scanned ones
    assert (index.literal is not None) == bool(literal)
    rng = random.Random(7)
    texts = dev_texts()
    joined = ["\n\n".join(texts[i : i + 5]) for i in range(0, 200, 5)]
    seen = 0
    for text in texts[:400] + joined:
        for form in variants(text):
            views = build_views(form)
            for view in (views.prose, views.comments):
                seen += check_view(index, patterns, view, rng)
    assert seen > 2000  # real matches were compared, not only empty scans


def test_scans_through_the_cue_set_equal_full_scans():
    """Each section of `CueSet.for_text` scans from its starts, whole or a range, as plain `re` finds."""
    cues = load("en")
    rng = random.Random(5)
    texts = dev_texts()
    through_starts = 0
    for text in texts[:300] + ["\n\n".join(texts[i : i + 5]) for i in range(0, 300, 5)]:
        view = build_views(text).prose
        narrowed = cues.for_text(view)
        for name in sorted(SCANNED):
            rx, fast = cues.patterns[name], narrowed.patterns[name]
            if not isinstance(rx, re.Pattern) or not isinstance(fast, Indexed):
                continue
            assert [m.span() for m in fast.finditer(view)] == [m.span() for m in rx.finditer(view)], (name, view)
            through_starts += 1
            for _ in range(3):
                a = rng.randrange(len(view) + 1)
                b = min(len(view), a + rng.randrange(1, 400))
                assert [m.span() for m in fast.finditer(view, a, b)] == [m.span() for m in rx.finditer(view, a, b)]
    assert through_starts > 50  # the start index served real scans


_WORDS = [
    "i",
    "i'm",
    "i'd",
    "not",
    "sure",
    "certain",
    "confident",
    "may",
    "might",
    "maybe",
    "probably",
    "likely",
    "seems",
    "roughly",
    "about",
    "honestly",
    "tbh",
    "from",
    "memory",
    "double-check",
    "verify",
    "the",
    "these",
    "figures",
    "date",
    "version",
    "100%",
    "90",
    "٣٠",
    "²",
    "x_y",
    "café",
    "naïve",
    "İstanbul",
    "straße",
    "don't",
    "can't",
    "i’m",
    "low",
    "medium",
    "high",
    "confidence",
    "uncertainty:",
    "note:",
    "caveat",
    "-",
    "--",
    "—",
    "–",
    "(",
    ")",
    "[!note]",
    ">",
    "#",
    "**",
    "_",
    "*",
    "•",
    "1.",
    "2)",
    ",",
    ";",
    ":",
    ".",
    "?",
    "!",
    "\x00",
    "\x01",
]
_GLUE = [" ", " ", " ", "", "\n", "\n\n", "\t", "  ", "-", "'", ", ", ". "]


def generated(rng: random.Random, n: int) -> str:
    out = []
    for _ in range(n):
        out.append(rng.choice(_WORDS))
        out.append(rng.choice(_GLUE))
    return "".join(out)


@BOTH
def test_indexed_scans_equal_full_scans_on_generated_text(literal):
    cues = load("en")
    patterns = {k: v for k, v in cues.patterns.items() if isinstance(v, re.Pattern)}
    index = start_index(patterns, literal)
    assert (index.literal is not None) == bool(literal)
    rng = random.Random(11)
    seen = 0
    for _ in range(300):
        seen += check_view(index, patterns, generated(rng, rng.randrange(1, 120)), rng)
    assert seen > 500


_PHRASES = (
    "i'm not sure",
    "i\u2019d not sure",
    "not sure",
    "90% sure",
    "\u0663\u0660% confident",
    "12% sure",
    "note:",
    "1. caveat:",
    "> note:",
    "(from memory",
    "(quoting - from memory",
    "; x-y, from memory",
    "afrom memory",
    ", but not sure",
    "but not sure",
    "parts i'd verify",
    "apart i'd check",
    "aaaaab",
    "aaaab",
    "but can't",
    ", i can't",
    " but can't",
    "\u2022 not sure",
    "\u2013not sure",
    "na\u00efve sure",
    "na?ve sure",
    "?not sure",
)
TRICKY = {
    # a word, then words behind a blank: starts "i " (and "i'"), not every word that begins with "i"
    "word_then_words": r"(?<!\w)i(?:'m| am)?(?: [\w'-]+){0,3} (?:not sure|unsure)",
    "behind": r"(?<![\w'])i(?:'m|'d)? not sure",
    "line": r"^[ \t>*-]*(?:\d+[.)][ \t]*)?(?:note|caveat):",
    "digits": r"(?<!\w)\d{1,3}% (?:sure|confident)",
    "word_led": r"(?:(?<=[(])|(?<=[(,;] ))(?:[\w'-]+ ?(?:-|,) ?)?from memory",
    "lookbehind_text": r"(?:(?<=, but )|(?<= but ))not sure",
    "mid_word": r"(?:part|bit|date)s? i'd (?:verify|check)",  # no look-behind: may start inside a word
    "repeat": r"(?<!\w)a{5}b",
    "optional_space": r"(?<!\w)(?: ?but|, i) can't",
    "shared_prefix": r"(?:parts?|partly|bits?|b) i'd (?:verify|check)|apart",  # found by prefix, then startswith
    "end_boundary": r"(?<!\w)(?:i'm not sure|not sure)(?:(?<!\w)|(?!\w))",
    # keys with characters beyond ASCII (one byte "?" each in the Hyperscan pass)
    "non_ascii": r"(?<!\w)(?:•|–) ?not sure|(?<!\w)naïve (?:guess|sure)|(?<!\w)٣٠% sure",
}


@BOTH
@pytest.mark.parametrize("name", sorted(TRICKY))
def test_constructs_scan_like_re(name, literal):
    rx = re.compile(TRICKY[name], re.M)
    assert cover(rx) is not None  # each is indexed: the comparison below exercises the fast path
    index = start_index({name: rx}, literal)
    assert name in index.indexed
    rng = random.Random(name)
    words = [*_WORDS, *_PHRASES]
    found = 0
    for _ in range(400):
        view = "".join(rng.choice(words) + rng.choice(_GLUE) for _ in range(rng.randrange(1, 40)))
        found += check_view(index, {name: rx}, view, rng)
    assert found > 0


@pytest.mark.parametrize(
    "pattern",
    [r"a*", r"(?:)|b", r"(?i)not sure", r"(?a)\w+ sure", r".sure", r"[^x]sure", r"\s+sure"],
)
def test_patterns_that_cannot_be_covered_are_left_to_re(pattern):
    # empty matches, case folding, ASCII \w, an open first character: scanned as before
    rx = re.compile(pattern)
    assert cover(rx) is None
    assert pattern not in StartIndex({pattern: rx}).indexed


def test_a_pattern_that_may_start_inside_a_word_is_not_word_anchored():
    assert not after_nonword(re.compile(r"(?:part|bit)s? i'd check"))
    assert not after_nonword(re.compile(r"(?<![\w'])i|x"))  # one alternative is unanchored
    assert after_nonword(re.compile(r"(?:^|(?<=[.!?] ))not sure", re.M))


def test_cover_strings_found_by_prefix_are_exactly_where_they_occur():
    shipped = load("en").starts
    assert shipped is not None
    cover_strings = {s for _, group in shipped.free["frame.untested"] for s in group}
    strings = sorted(cover_strings | {"part i", "partly", "parts ", "pa", "b i'd "})  # "pa" begins "part i"
    groups = _by_prefix(strings)
    assert any(len(group) > 1 for _, group in groups)  # some strings share a prefix
    rng = random.Random(3)
    words = [*_WORDS, *_PHRASES, "partly", "answer", "bits to", "pa"]
    for _ in range(300):
        view = "".join(rng.choice(words) + rng.choice(_GLUE) for _ in range(rng.randrange(1, 60)))
        naive = sorted({i for s in strings for i in range(len(view)) if view.startswith(s, i)})
        assert _prefixed_occurrences(view, groups) == naive == _occurrences(view, tuple(strings)), view


def test_a_word_followed_by_a_blank_and_a_word_run_keeps_the_blank_in_its_cover():
    """After word characters a digit/word marker ends the cover string, with the non-word characters its
    matches begin with: "i" then " [\\w'-]+" covers as "i ", which "it", "is" and "install" do not begin."""
    strings = cover(re.compile(r"(?<!\w)i(?: [\w'-]+){0,3} not sure"), 6)
    assert strings is not None
    assert "i" not in strings and "i " in strings
    longer = cover(re.compile(r"(?<!\w)(?:the|this)(?: [\w'-]+){0,3} is wrong"), 6)
    assert longer is not None and {"the ", "this "} <= longer and not {"the", "this"} & longer  # ("they", "thistle")
    shipped = load("en")
    assert shipped.starts is not None
    starts = shipped.starts.starts("it is installed in it. i think i'm not sure.")
    assert all(p >= 23 for p in starts.of("statement_strong"))  # only the pronoun "i" starts a match


@pytest.mark.skipif(not available(), reason="no pyperscan")
def test_a_sections_starts_for_some_of_its_entries_hold_every_match_of_them():
    """A section whose entries are known is tried only where one of the entries its view keeps may start
    (literals.entry_masks): each of those entries' matches starts at one of them, whatever entries are kept."""
    cues = load("en")
    index = cues.starts
    assert index is not None and index.literal is not None and index.literal.lazy
    assert set(index.masks) == set(cues.alternatives)  # (the statement lists)
    rng = random.Random(41)
    texts = dev_texts()
    narrowed = whole = tried = 0
    for text in rng.sample(texts, 150) + [generated(rng, rng.randrange(1, 120)) for _ in range(50)]:
        for form in variants(text):
            view = build_views(form).prose
            table = index.starts(view)
            for name, alts in cues.alternatives.items():
                every = table.of(name)
                one = 1 << rng.randrange(len(alts.entries))
                for bits in (rng.getrandbits(len(alts.entries)), one, (1 << len(alts.entries)) - 1):
                    some = set(table.of(name, bits))
                    assert some <= set(every)
                    for p in every:
                        if any(rx.match(view, p) for rx, _ in alts.entries_of(bits)):
                            assert p in some, (name, bits, view[p : p + 30])
                            tried += 1
                narrowed += len(table.of(name, one))
                whole += len(every)
    assert tried > 150 and narrowed < whole / 2  # real matches were checked, and most starts left out
