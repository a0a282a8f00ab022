"""The RE2 prefilter skips cue scans that cannot match: it must never change what the rule path finds."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from llmvet.validators.uncertainty import frames
from llmvet.validators.uncertainty.cues import CueSet, load
from llmvet.validators.uncertainty.detect import analyse
from llmvet.validators.uncertainty.hits import Options
from llmvet.validators.uncertainty.prefilter import Prefilter, Windowed, relaxed
from llmvet.validators.uncertainty.text import build_views
from tests.validators.uncertainty.prefiltered import sections_prefilter

DEV = Path(__file__).resolve().parents[2] / "data" / "uncertainty" / "dev.jsonl"


def dev_texts() -> list[str]:
    return [json.loads(line)["text"] for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"(?<!\w)(?:i'm not sure)(?:(?<!\w)|(?!\w))", r"(?:i'm not sure)(?:|)"),
        (r"^[ \t]*(?=[ab])(?:a|b)\b$", r"[ \t]*(?:a|b)"),
        (r"[(?=]x\(?=\)", r"[(?=]x\(?=\)"),  # a class and escaped parentheses are not look-arounds
        (r"a(?=b(?:c|d)[)])e", r"ae"),  # the look-ahead ends at its own closing parenthesis
        (r"(a)\1", None),  # a backreference cannot be relaxed
        (r"a(?=b)*", None),  # nor a quantified assertion
    ],
)
def test_relaxed_drops_zero_width_assertions_only(pattern, expected):
    assert relaxed(pattern) == expected


def test_windowed_scan_finds_exactly_what_a_full_scan_finds():
    cues, prefilter = sections_prefilter()
    assert not prefilter.always  # every shipped section is prefiltered
    scanned = 0
    for text in dev_texts()[:200]:
        views = build_views(text)
        for view in (views.prose, views.comments):
            narrowed = prefilter.narrowed(cues.patterns, view)
            if narrowed is None:
                continue
            for section, rx in cues.patterns.items():
                assert isinstance(rx, re.Pattern)
                full = [m.span() for m in rx.finditer(view)]
                windowed = narrowed[section]
                if windowed is None:
                    assert full == [], (section, view)
                    continue
                assert isinstance(windowed, Windowed)
                assert [m.span() for m in windowed.finditer(view)] == full, (section, view)
                scanned += bool(full)
    assert scanned > 100  # the corpus exercises real matches, not only skipped sections


def variants(text: str) -> list[str]:
    """The text, and forms that must not be prefiltered (non-ASCII, characters only Python's \\s knows)."""
    return [text, text.replace("'", "\u2019").replace("a", "\u00e0", 2), text.replace(" ", "\x0b", 3)]


def test_analysis_through_the_start_index_equals_analysis_without_it():
    cues = load("en")
    plain = CueSet(cues.patterns, cues.categories)  # no start index: every section scanned
    options = Options(collect_candidates=True)
    checked = 0
    for text in dev_texts():
        for form in variants(text)[: 3 if checked < 60 else 1]:
            indexed = dataclasses.asdict(analyse(form, cues, options))
            assert indexed == dataclasses.asdict(analyse(form, plain, options)), form
            checked += 1
    assert checked > 500


def test_frames_found_through_the_prefilter_equal_a_full_scan():
    for text in dev_texts()[:300]:
        view = build_views(text).prose
        spans = set(frames.find(view))
        for name, rx in frames.FRAME_PATTERNS.items():
            for m in rx.finditer(view):
                if name not in ("self", "pro_drop_degree") and m.end() > m.start():
                    assert m.span() in spans, (name, view)


def test_a_statement_hidden_among_unicode_or_odd_blanks_is_still_found():
    # An answer cannot slip a statement past the scans by adding characters RE2 or the index read differently.
    cues = load("en")
    for text in (
        "The café opens at nine. I'm not sure about Sundays.",
        "Use\x0bthe\x1fflag. I'm not sure it exists in 2.x.",
        "Set it to 5\u00a0s. I'm not sure that is enough.",
    ):
        found = analyse(text, cues)
        assert found.statement_present, text
        assert any("not sure" in h.text for h in found.statements)


def test_a_set_too_big_for_re2_falls_back_to_scanning_everything():
    # 64 MB of DFA is far more than the shipped lists need; when RE2 gives up, nothing is skipped.
    alternation = re.compile("|".join(f"(?:w{i}[a-z]{{0,40}}x{i})" for i in range(400)))
    prefilter = Prefilter({"many": alternation})
    possible = prefilter.possible("w7abcx7 " * 50)
    assert possible is None or "many" in possible


@pytest.mark.parametrize("pattern", ["", "a*", "x?", "(?:)|b", "i'm|not sure", "[a-z]+"])
def test_window_spans_read_from_re2_directly_are_its_finditer_spans(pattern):
    import re2

    from llmvet.validators.uncertainty.prefilter import _spans

    rx = re2.compile(pattern)
    for text in [t.lower().encode() for t in dev_texts()[:100] if t.isascii()] + [b"", b"a", b"ab ba"]:
        assert list(_spans(rx, text)) == [m.span() for m in rx.finditer(text)]


def test_no_search_finds_a_match_where_no_window_reaches():
    """`can_start_in` may only rule out ranges in which a search (the string cut at its end) finds nothing."""
    cues, prefilter = sections_prefilter()
    rng = __import__("random").Random(3)
    ruled_out = 0
    for text in dev_texts()[:150]:
        view = build_views(text).prose
        narrowed = prefilter.narrowed(cues.patterns, view)
        if not narrowed:
            continue
        for section, rx in narrowed.items():
            if not isinstance(rx, Windowed):
                continue
            for _ in range(20):
                a = rng.randrange(len(view) + 1)
                b = min(len(view), a + rng.randrange(1, 200))
                if not rx.can_start_in(view, a, b):
                    ruled_out += 1
                    assert rx.rx.search(view, a, b) is None, (section, view[a:b])
    assert ruled_out > 1000
