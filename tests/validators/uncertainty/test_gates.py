"""A scanned section is skipped for a text (CueSet.for_text gives None) when the text holds none of the
strings one of which each of its matches holds (cues.load's `needs`): it then must not match there."""

from __future__ import annotations

import dataclasses
import random
import re

import pytest

from llmvet.validators.uncertainty.cues import load
from llmvet.validators.uncertainty.starts import Indexed
from llmvet.validators.uncertainty.text import build_views

from .test_alternatives import views
from .test_starts import dev_texts, variants


def test_every_match_of_a_gated_section_holds_one_of_its_strings():
    cues = load("en")
    assert len(cues.needs) >= 10  # frames, deflections, refusals, backstop words...
    matched = 0
    for text in dev_texts()[:300]:
        for form in variants(text):
            view = build_views(form).prose
            for name, need in cues.needs.items():
                rx = cues.patterns[name]
                assert isinstance(rx, re.Pattern)
                for m in rx.finditer(view):
                    assert any(s in m.group() for s in need), (name, m.group())
                    matched += 1
    assert matched > 200


def test_sections_skipped_for_their_strings_cannot_match():
    # (the strings alone: without the prefilter gates, which test_prefilter.py checks, and which where
    # Hyperscan is installed shut wherever the strings do)
    cues = dataclasses.replace(load("en"), gated=frozenset())
    assert cues.starts is not None
    rng = random.Random(11)
    texts = dev_texts()
    forms = [form for text in texts[:200] for form in variants(text)] + views(100)
    forms += ["\n\n".join(rng.sample(texts, 4)) for _ in range(40)]
    gated = scanned = 0
    for form in forms:
        view = build_views(form).prose
        live = cues.starts.starts(view).live()  # the sections with a start in the view
        narrowed = cues.for_text(view)
        for name, need in cues.needs.items():
            rx, fast = cues.patterns[name], narrowed.patterns[name]
            assert isinstance(rx, re.Pattern)
            if fast is None:
                assert rx.search(view) is None, (name, view)
                if name in live:  # skipped for its strings alone
                    assert not any(s in view for s in need)
                    gated += 1
            else:
                assert isinstance(fast, Indexed)
                assert [m.span() for m in fast.finditer(view)] == [m.span() for m in rx.finditer(view)], name
                scanned += 1
    assert gated > 1000 and scanned > 500  # both paths were taken


def test_a_gate_opens_on_one_of_its_strings_alone():
    cues = load("en")
    view = "so that is a call only you can make, i think."
    assert cues.for_text(view).patterns["deflection"] is not None
    assert cues.for_text(view.replace("only you can", "nobody would")).patterns["deflection"] is None


def test_a_views_cue_set_opens_the_live_sections_whose_gate_matches_or_that_have_none():
    """CueSet.for_text opens sections from the open gates' labels (and the ungated ones), not by walking
    every indexed section: the same sections either way, each as an Indexed pattern, the others None."""
    whole = load("en")
    assert whole.starts is not None and whole.gated
    some_ungated = dataclasses.replace(whole, gated=frozenset(sorted(whole.gated)[::2]))
    texts = dev_texts()
    opened_seen = ungated_seen = 0
    for cues in (whole, some_ungated):
        for text in texts[:120] + views(30):
            view = build_views(text).prose
            table = cues.starts.starts(view)
            opened = table.opened()
            if opened is None:
                pytest.skip("no Hyperscan: the views' gates are not asked")
            live = table.live(cues.gated - opened)
            narrowed = cues.for_text(view)
            assert narrowed.patterns.keys() == cues.patterns.keys()
            for name, rx in cues.patterns.items():
                fast = narrowed.patterns[name]
                if (name, rx) not in cues.indexed:
                    assert fast is rx
                elif name in live and (name in opened or name not in cues.gated):
                    assert isinstance(fast, Indexed) and fast.rx is rx and fast.text is view
                    opened_seen += name in opened
                    ungated_seen += name not in cues.gated
                else:
                    assert fast is None
    assert opened_seen > 100 and ungated_seen > 100
