"""Non-ASCII text goes through the RE2 prefilter with stand-ins (standins.py): every scan through it must
find exactly what Python's `re` finds scanning every position, and no section it rules out may match."""

from __future__ import annotations

import dataclasses
import json
import random
import re
from pathlib import Path

import pytest

from llmvet.validators.uncertainty import frames
from llmvet.validators.uncertainty.cues import CueSet, load
from llmvet.validators.uncertainty.detect import analyse
from llmvet.validators.uncertainty.hits import Options
from llmvet.validators.uncertainty.prefilter import Prefilter, Windowed
from llmvet.validators.uncertainty.standins import StandIns
from llmvet.validators.uncertainty.text import build_views
from tests.validators.uncertainty.prefiltered import sections_prefilter

DEV = Path(__file__).resolve().parents[2] / "data" / "uncertainty" / "dev.jsonl"
# symbols (read as themselves), letters, digits and blanks (stand-ins), 2- to 4-byte UTF-8, a combining
# mark, Python-only line breaks
ODD = ["\u2014", "\u2013", "\u00b0", "\u2192", "\u00e9", "\u00c9", "\u0130", "\u0663", "\u2009", "\u3000",
       "\u2028", "\U0001f680", "\u0301", "\u00df", "\u212a", "\u201c", "\u201d", "\u2019", "\u00a0"]  # fmt: skip


def dev_texts() -> list[str]:
    return [json.loads(line)["text"] for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]


def unicode_forms(text: str, rng: random.Random) -> list[str]:
    """Non-ASCII forms of a text: dashes for hyphens, accents, odd characters at word edges and line starts."""
    out = [text.replace(" - ", " \u2014 ").replace("e", "\u00e9", 2).replace(", ", " \u2013 ", 1)]
    chars = list(text)
    for _ in range(max(1, len(chars) // 40)):
        i = rng.randrange(len(chars) + 1)
        chars.insert(i, rng.choice(ODD) if rng.random() < 0.8 else "\n" + rng.choice(ODD))
    out.append("".join(chars))
    return out


def check(prefilter: Prefilter, patterns: dict[str, re.Pattern[str]], view: str) -> tuple[bool, int]:
    """Compare every pattern's scan through the prefilter with plain `re`; (prefiltered, matches seen)."""
    narrowed = prefilter.narrowed(patterns, view)
    if narrowed is None:
        return False, 0
    seen = 0
    for name, rx in patterns.items():
        full = [m.span() for m in rx.finditer(view)]
        got = narrowed[name]
        if got is None:
            assert full == [], (name, view)
            continue
        assert [m.span() for m in got.finditer(view)] == full, (name, view)
        if isinstance(got, Windowed):
            for a, _b in full:  # no window may miss a match's start, nor a range holding one
                assert got.can_start_in(view, max(0, a - 3), a + 1), (name, a, view)
        seen += len(full)
    return True, seen


@pytest.mark.parametrize("start", range(0, 400, 50))
def test_unicode_views_scanned_through_stand_ins_find_what_re_finds(start: int) -> None:
    cues, prefilter = sections_prefilter()
    patterns = {k: v for k, v in cues.patterns.items() if isinstance(v, re.Pattern)}
    rng = random.Random(start)
    prefiltered = seen = 0
    for text in dev_texts()[start : start + 50]:
        for form in unicode_forms(text, rng):
            views = build_views(form)
            for view in (views.prose, views.comments, form):
                done, n = check(prefilter, patterns, view)
                prefiltered += done
                seen += n
    assert prefiltered > 50 and seen > 20  # the stand-in path ran, on text with real matches


def test_frames_through_stand_ins_find_what_re_finds() -> None:
    frame_prefilter = Prefilter(frames.FRAME_PATTERNS)  # (frames.find no longer narrows with one itself)
    rng = random.Random(7)
    prefiltered = 0
    for text in dev_texts()[:200]:
        for form in unicode_forms(text, rng):
            done, _ = check(frame_prefilter, frames._FRAMES, build_views(form).prose)
            prefiltered += done
    assert prefiltered > 100


def test_analysis_of_unicode_text_equals_analysis_without_the_fast_paths() -> None:
    cues = load("en")  # (the refusal categories through their prefilter, the sections through the index)
    plain = CueSet(cues.patterns, cues.categories)  # no prefilter, no start index: every section scanned
    options = Options(collect_candidates=True)
    rng = random.Random(11)
    for text in dev_texts()[::3]:
        for form in unicode_forms(text, rng):
            assert dataclasses.asdict(analyse(form, cues, options)) == dataclasses.asdict(
                analyse(form, plain, options)
            ), form


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        ("caf[^a-z] opens", "the caf\u00e9 opens"),  # a letter in a negated class
        ("\\w+ \u2014 sure", "I'm not \u00e9t\u00e9 \u2014 sure"),  # a dash as a literal, letters as \\w
        ("[\u00c0-\u00ff]t\u00e9", "\u00e9t\u00e9"),  # a non-ASCII range and literal
        ("(?i)stra\u00dfe", "STRASSE and stra\u00dfe"),  # a letter with case
        ("\\d+ ?%", "\u0663\u0660 %"),  # Unicode digits are \\d in Python
        ("not\\ssure", "not\u2009sure and not\u3000sure"),  # Unicode blanks are \\s in Python
        ("x.y", "x\U0001f680y x\u2028y"),  # a 4-byte character, a line separator (not "\\n")
        ("[^.!?\\n]*(?:hotline)", "call \u2192 the hotline \u2014 now"),
        ("\u2192 [a-z]+", "x \u2192 \u00e9t\u00e9 \u2192 go"),  # windows after multi-byte characters
    ],
)
def test_stand_ins_never_hide_a_match(pattern: str, text: str) -> None:
    rx = re.compile(pattern)
    prefilter = Prefilter({"p": rx})
    assert not prefilter.always  # RE2 reads the pattern: its prefilter is what is tested
    possible = prefilter.possible(text)
    assert possible is None or "p" in possible
    narrowed = prefilter.narrowed({"p": rx}, text)
    expected = [m.span() for m in rx.finditer(text)]
    assert expected  # each case has a match to hide
    if narrowed is not None:
        assert narrowed["p"] is not None
        assert [m.span() for m in narrowed["p"].finditer(text)] == expected


def test_a_character_stands_in_only_where_every_item_agrees() -> None:
    # "é" is in [^a-z] and \w: "_" is both, "z" is not in [^a-z]
    assert StandIns([re.compile(r"caf[^a-z]"), re.compile(r"\w")]).readable("caf\u00e9") == "caf_"
    # a class listing the letter itself: no ASCII character is in every class "é" is in
    assert StandIns([re.compile(r"[\u00e9]"), re.compile(r"[^_z0 \x01]")]).readable("\u00e9") is None
    # a symbol is read as itself, a backreference allows no stand-in at all
    assert StandIns([re.compile(r"a")]).readable("a\u2014b") == "a\u2014b"
    assert StandIns([re.compile(r"(a)\1")]).readable("\u00e9") is None
    assert StandIns([re.compile(r"a")]).readable("\ud800") is None  # no UTF-8 for a lone surrogate


def test_refusal_classification_through_the_start_index_equals_the_plain_one() -> None:
    """The refusal pass scans its sections through the start index (starts.py): refused answers, joined
    with others, as bullet lists and in Unicode forms, must be classified exactly as with plain `re`."""
    cues = load("en")
    plain = CueSet(cues.patterns, cues.categories)
    assert cues.starts is not None and plain.starts is None
    rng = random.Random(5)
    texts = dev_texts()
    refused = [t for t in texts if analyse(t, plain).refusal_level != "none"]
    assert len(refused) > 20
    compared = levels = 0
    for i, text in enumerate(refused):
        other = texts[(i * 7) % len(texts)]
        bullets = "\n".join(f"{rng.choice(['- ', '* ', '# ', '', '1. '])}{s}" for s in text.split(". "))
        for form in (text, f"{text}\n\n{other}", f"{other}\n\n{text}", bullets, *unicode_forms(text, rng)):
            got = dataclasses.asdict(analyse(form, cues))
            assert got == dataclasses.asdict(analyse(form, plain)), form
            compared += 1
            levels += got["refusal_level"] != "none"
    assert levels > compared // 3  # most forms are still refusals: the classification ran
