"""A section's entries tried one by one, only those whose required strings the view holds
(alternatives.py): every scan must find exactly what Python's `re` finds with the section's whole pattern."""

from __future__ import annotations

import random
import re

import pytest

from llmvet.validators.uncertainty import cues as cue_module
from llmvet.validators.uncertainty.alternatives import WRAP, Alternatives, Present, match, required
from llmvet.validators.uncertainty.cues import LIST_SECTIONS, load, read_cue_file, shipped_path
from llmvet.validators.uncertainty.grouping import grouped_body
from llmvet.validators.uncertainty.starts import Indexed
from llmvet.validators.uncertainty.text import build_views

from .test_starts import dev_texts, generated, variants

_FLAGS = re.M


def shipped_entries() -> dict[str, list[str]]:
    """Every scanned section's entries as cues.py compiles them (macros expanded, lower-cased)."""
    data = read_cue_file(shipped_path("en"))
    macros = {k: str(v) for k, v in (data.get("macros") or {}).items()}
    return {s: cue_module._parts(list(data.get(s) or []), macros, s) for s in LIST_SECTIONS}


def views(n_generated: int = 200) -> list[str]:
    rng = random.Random(7)
    texts = dev_texts()
    out = [build_views(t).prose for t in texts[:150]]
    out += [build_views(v).prose for t in texts[150:200] for v in variants(t)[1:]]
    out += [generated(rng, rng.randrange(1, 120)) for _ in range(n_generated)]
    return out


HAND_WRITTEN = [
    r"ab(?:cd|ef)g",
    r"(?:x|yz)+ done",
    r"(?:a|b)?c",  # an optional group: only "c" is required
    r"[ab]c",
    r"(?:one|two)(?: \w+){0,3} three",
    r"(?<=\()from memory",
    r"(?=sure)s\w+",
    r"(?i:Case) blind",  # case-insensitive inside: not known
    r"\w+ing",
    r"a*",
]


def test_required_strings_are_in_every_match():
    """Each entry's required strings: every match (of the entry alone, and where the section's whole
    pattern took it) contains one of them."""
    checked = 0
    patterns = [p for parts in shipped_entries().values() for p in parts] + HAND_WRITTEN
    texts = views(100) + ["ab cd abefg xyzx done c bc one a b three (from memory sure CASE blind running aaa"]
    for part in patterns:
        need = required(part, _FLAGS)
        if need is None:
            continue
        rx = re.compile(WRAP.format(part), _FLAGS)
        for view in texts:
            for m in rx.finditer(view):
                assert any(s in m.group() for s in need), (part, m.group(), sorted(need))
                checked += 1
    assert checked > 200


def test_what_is_required_is_read_from_the_parse_tree():
    assert required("ab(?:cd|ef)g") == {"cd", "ef"} or required("ab(?:cd|ef)g") in ({"ab"}, {"g"})
    assert required("(?:a|b)?c") == {"c"}
    assert required("[ab]c") in ({"a", "b"}, {"c"})
    assert required("(?:one|two)(?: \\w+){0,3} three") in ({"one", "two"}, {" three"})
    assert required("(?i:Case) blind") == {" blind"}  # the case-insensitive group is not read
    assert required("(?i)case") is None
    assert required("\\w+ing") == {"ing"}
    assert required("a*") is None
    assert required("(?:x|\\w)y") == {"y"}  # a branch without a string: another element is used


def test_present_strings_are_those_in_the_view():
    strings = ["not sure", "may", "\u00e9t\u00e9", "a?b", "x"]
    present = Present(strings)
    for view in views(50) + ["\u00e9t\u00e9 a?b", "axb", "\u00e8t\u00e8 may"]:
        found = present(view)
        expected = {s for s in strings if s in view}
        assert expected <= found
        if view.isascii() and "?" not in view:
            assert found == expected, view


@pytest.mark.parametrize("section", ["statement_strong", "statement_caveat", "hedge", "refusal", "backstop_person"])
def test_entries_kept_for_a_view_match_as_the_whole_pattern(section):
    """At every position of real and generated views, the kept entries one by one give what the whole
    pattern gives (and all entries too, whatever the view holds)."""
    parts = shipped_entries()[section]
    grouped = section in cue_module.GROUPED
    alts = cue_module.alternatives(parts, grouped)
    assert alts is not None
    rx = re.compile(WRAP.format(grouped_body(parts) if grouped else "|".join(f"(?:{p})" for p in parts)), _FLAGS)
    assert rx.pattern == load("en").patterns[section].pattern  # the pattern the rule path scans with
    present = Present(alts.strings)
    everything = alts.entries
    matched = 0
    for view in views():
        kept = alts.kept(present(view))
        for p in range(len(view)):
            whole = rx.match(view, p)
            expected = whole.span() if whole else None
            for entries in (kept, everything):
                got = match(entries, view, p, len(view))
                assert (got.span() if got else None) == expected, (section, view[p : p + 60])
            matched += whole is not None
    assert matched > 20


def test_scans_through_the_cue_set_equal_full_scans_on_generated_and_unicode_text():
    cues = load("en")
    assert cues.alternatives and cues.present is not None
    rng = random.Random(3)
    served = 0
    for view in views():
        narrowed = cues.for_text(view)
        for name in cues.alternatives:
            rx, fast = cues.patterns[name], narrowed.patterns[name]
            assert isinstance(rx, re.Pattern)
            if not isinstance(fast, Indexed):
                assert rx.search(view) is None
                continue
            assert [m.span() for m in fast.finditer(view)] == [m.span() for m in rx.finditer(view)], (name, view)
            a = rng.randrange(len(view) + 1)
            b = min(len(view), a + rng.randrange(1, 400))
            assert [m.span() for m in fast.finditer(view, a, b)] == [m.span() for m in rx.finditer(view, a, b)]
            served += 1
    assert served > 100


def test_entries_are_in_the_order_the_whole_pattern_tries_them():
    """Two entries matching at one place: the first in the compiled order wins, grouped or not."""
    for grouped in (False, True):
        alts = Alternatives([("i'm not", "i"), ("i'm not sure", "i")] if grouped else [("i'm not", None)], _FLAGS)
        got = match(alts.entries, "i'm not sure.", 0, 13)
        assert got is not None and got.group() == "i'm not"
