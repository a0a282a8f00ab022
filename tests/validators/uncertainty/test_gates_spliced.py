"""A gate that stays shut must mean no match, also where cue text meets text it was not written in.

test_prefilter.py checks the gates on the dev answers and their variants. A multi-pattern engine can miss
a gate's match that depends on what came before it in the view (multipattern.py: the `hyperscan` wheel
missed one in ~13,000 views of this kind), so here every cue pattern's matches in the dev answers are cut
out with some context and spliced into other answers, joined, repeated and cased, and each section or
statement entry whose gate stays shut in such a view is searched with plain `re`: it must find nothing.
With the `hyperscan` wheel's engine this test failed (views 1,922 and 2,498 of these 2,600: a
`frame.pro_drop_degree` match behind a shut gate); 20,000 views gave it 4 such views, pyperscan's none.
"""

from __future__ import annotations

import random

import pytest

from llmvet.validators.uncertainty.cues import load
from llmvet.validators.uncertainty.literals import available
from llmvet.validators.uncertainty.text import build_views

from .test_starts import dev_texts

pytestmark = pytest.mark.skipif(not available(), reason="no pyperscan")


def spliced_views(count: int, seed: int) -> list[str]:
    cues = load("en")
    rng = random.Random(seed)
    answers = dev_texts()
    snippets = []
    for text in answers[:400]:
        view = build_views(text).prose
        for _, rx in cues.indexed:
            for m in rx.finditer(view):
                snippets.append(view[max(0, m.start() - rng.randrange(40)) : m.end() + rng.randrange(40)])
    assert len(snippets) > 500
    out = []
    while len(out) < count:
        kind = rng.randrange(4)
        if kind == 0:
            text = " ".join(rng.sample(snippets, rng.randrange(2, 7)))
        elif kind == 1:
            answer = rng.choice(answers)
            at = rng.randrange(len(answer) + 1)
            text = f"{answer[:at]} {rng.choice(snippets)} {answer[at:]}"
        elif kind == 2:
            text = "\n\n".join(rng.sample(snippets, 6)) + "\n" + rng.choice(answers)
        else:
            text = rng.choice(snippets).capitalize() + " " + rng.choice(snippets).upper()
        out.append(build_views(text).prose)
    return out


def test_a_shut_gate_means_no_match_in_spliced_views():
    cues = load("en")
    assert cues.starts is not None and cues.starts.literal is not None and cues.starts.literal.gated
    entries = [(name, i, rx) for name, alts in cues.alternatives.items() for i, (rx, _) in enumerate(alts.entries)]
    shut = matched = 0
    for view in spliced_views(2600, seed=41):
        opened = cues.starts.starts(view).opened()
        assert opened is not None
        for name, rx in cues.indexed:
            if name in opened:
                matched += rx.search(view) is not None
            else:
                shut += 1
                assert rx.search(view) is None, (name, view)
        for name, i, rx in entries:
            if (name, i) not in opened:
                assert rx.search(view) is None, (name, i, view)
    assert shut > 40_000 and matched > 8_000  # (both sides were exercised)
