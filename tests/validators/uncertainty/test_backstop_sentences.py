"""The backstop reads only the sentences an epistemic word may start in; with a start index it finds them
from the index's starts (statements._sentences_with), which must be exactly the sentences SENTENCE gives
that hold such a start."""

from __future__ import annotations

import random

from llmvet.validators.uncertainty import statements
from llmvet.validators.uncertainty.cues import load
from llmvet.validators.uncertainty.hits import SENTENCE
from llmvet.validators.uncertainty.starts import Indexed
from llmvet.validators.uncertainty.text import build_views

from .test_starts import dev_texts, variants


def _forms() -> list[str]:
    rng = random.Random(9)
    texts = dev_texts()
    out = [form for text in texts[:250] for form in variants(text)]
    out += ["\n\n".join(rng.sample(texts, 5)) for _ in range(30)]
    # sentence ends the long way round: terminators at line starts, runs of them, a text ending mid-sentence
    out += [t.replace(". ", ".\n...", 3).replace("?", "?!?") + " and i am not sure" for t in texts[:80]]
    return out


def test_sentences_found_from_the_starts_are_those_holding_a_start():
    cues = load("en")
    from_starts = 0
    for form in _forms():
        views = build_views(form)
        for view in (views.prose, views.comments):
            epistemic = cues.for_text(view).get("backstop_epistemic")
            if epistemic is None:
                continue
            assert isinstance(epistemic, Indexed)
            expected = [m.span() for m in SENTENCE.finditer(view) if epistemic.can_start_in(view, *m.span())]
            assert list(statements._sentences_with(view, epistemic)) == expected, view
            from_starts += bool(expected)
    assert from_starts > 200


def test_another_text_is_read_sentence_by_sentence():
    cues = load("en")
    view = "i am sure of it. then i checked again."
    epistemic = cues.for_text(view).get("backstop_epistemic")
    assert isinstance(epistemic, Indexed)
    other = "nothing here. i doubt it! and more"
    assert list(statements._sentences_with(other, epistemic)) == [m.span() for m in SENTENCE.finditer(other)]
