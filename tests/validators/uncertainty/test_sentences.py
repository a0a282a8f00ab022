"""hits.sentences must give SENTENCE.finditer's spans: on the corpora's prose (with characters beyond ASCII,
with and without "?" of their own) and on generated text."""

from __future__ import annotations

import random

from llmvet.validators.uncertainty.hits import SENTENCE, sentences
from llmvet.validators.uncertainty.text import build_views
from tests.support.corpus import corpus_texts

PIECES = ["a", "word", " ", "  ", ".", "!", "?", "...", "?!", "\n", "\n\n", "\u2014", "\u00e9", "\t", "\r", "'", '"']


def spans_agree(prose: str, data: bytes | None) -> None:
    assert [m.span() for m in sentences(prose, data)] == [m.span() for m in SENTENCE.finditer(prose)], prose


def test_the_corpora_prose():
    for text in corpus_texts()[::2]:
        for variant in (text, text.replace("-", "\u2014", 2), text.replace(".", "\u2026", 2) + " ok?"):
            views = build_views(variant)
            spans_agree(views.prose, views.prose_data)
            spans_agree(views.prose, None)


def test_generated_text():
    rng = random.Random(13)
    for _ in range(3000):
        prose = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 30)))
        spans_agree(prose, None)
        spans_agree(prose, prose.encode("ascii", "replace"))
