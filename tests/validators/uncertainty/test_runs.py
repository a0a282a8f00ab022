"""Digit / word run conditions (runs.py): a section's, and its entries' one by one (EntryRuns), which
narrow its starts to the entries a view keeps without losing a match of them."""

from __future__ import annotations

import re

from llmvet.validators.uncertainty.covers import LONG, cover
from llmvet.validators.uncertainty.cues import load
from llmvet.validators.uncertainty.firsts import WRAP
from llmvet.validators.uncertainty.runs import EntryRuns, marker_conditions
from llmvet.validators.uncertainty.text import build_views


def entry(pattern: str) -> re.Pattern[str]:
    return re.compile(WRAP.format(pattern), re.M)


def test_marker_conditions_are_read_from_the_markers_only():
    strings = cover(entry(r"\d+% sure|(?:- )?\d+ percent|about \w+ things"), LONG)
    assert strings is not None
    digit, word = marker_conditions(strings)
    assert set(digit) == {"% sure", " percent"}
    assert digit[" percent"][0] and digit[" percent"][2] == {"- "}  # (a bare digit, or one after "- ")
    assert word == {}  # ("about " is a key: the word after it starts no match)
    assert marker_conditions(["abc", "de"]) == ({}, {})


def test_entry_runs_keep_the_conditions_of_the_kept_entries_only():
    entries = [entry(r"pears"), entry(r"\d+ apples"), entry(r"(?:say )?\w+ plums"), entry(r"\d+ figs")]
    section = marker_conditions(set().union(*(cover(rx, LONG) or () for rx in entries)))
    runs = EntryRuns(entries, section)
    assert runs.of(-1) == section
    assert runs.of(0b0001) == ({}, {})  # "pears" starts at its key only
    assert set(runs.of(0b0010)[0]) == {" apples"} and runs.of(0b0010)[1] == {}
    assert set(runs.of(0b1010)[0]) == {" apples", " figs"}
    assert set(runs.of(0b0100)[1]) == {" plums"} and runs.of(0b0100)[0] == {}
    uncovered = EntryRuns([entries[0], re.compile(r"(?:x?)")], section)
    assert uncovered.of(0b01) == ({}, {}) and uncovered.of(0b10) == section  # (no cover: the section's)


def test_a_digit_led_statement_is_found_when_its_entry_is_kept_and_not_tried_otherwise():
    cues = load("en")
    index, alts = cues.starts, cues.alternatives["statement_strong"]
    assert index is not None
    digit_led = [i for i, (rx, _) in enumerate(alts.entries) if "\\d+[.)]" in rx.pattern]
    assert digit_led
    view = build_views("Summary of the 3 options:\n2. Low confidence in the 2019 figures, I think.").prose
    table = index.starts(view)
    bits = sum(1 << i for i in digit_led)
    at = view.index("2.")
    assert at in table.of("statement_strong", bits)
    assert any(rx.match(view, at) for rx, _ in alts.entries_of(bits))
    others = ((1 << len(alts.entries)) - 1) ^ bits
    assert not {at, view.index("3 "), view.index("2019")} & set(table.of("statement_strong", others))
