"""`Spans` answers `overlaps` from a sorted index instead of checking every span: on any sequence of
appends and questions it must answer exactly what the plain list does."""

from __future__ import annotations

import random

import pytest

from llmvet.validators.uncertainty.hits import Span, Spans, overlaps


def plain(a: int, b: int, spans: list[Span]) -> bool:
    return any(s < b and a < e for s, e in spans)


@pytest.mark.parametrize("seed", range(40))
def test_spans_answer_like_the_list(seed: int) -> None:
    rng = random.Random(seed)
    size = rng.choice((20, 200, 5000))
    longest = rng.choice((1, 5, 40, size))  # short cue spans, sentence-long ones, one covering everything
    spans: list[Span] = []
    index = Spans()
    asked = hits = 0
    for _ in range(400):
        a = rng.randrange(-3, size + 3)
        b = a + rng.choice((0, 1, rng.randrange(0, longest + 1)))  # empty, one character, any length
        if rng.random() < 0.3:
            spans.append((a, b))
            index.append((a, b))
        expected = plain(a, b, spans)
        assert overlaps(a, b, index) is expected, (seed, a, b)
        asked += 1
        hits += expected
    assert sorted(index) == sorted(spans) and len(index) == len(spans)
    assert 0 < hits < asked or size == 20  # both answers were asked about


def test_spans_edges() -> None:
    index = Spans([(10, 20), (30, 30), (0, 100)])
    assert overlaps(5, 6, index)  # inside the long span only
    index = Spans([(10, 20), (30, 30)])
    assert not overlaps(20, 25, index) and not overlaps(0, 10, index)  # touching is no overlap
    assert overlaps(19, 21, index) and overlaps(9, 11, index)
    assert overlaps(30, 31, index) is plain(30, 31, [(10, 20), (30, 30)])
    assert overlaps(29, 31, index) is plain(29, 31, [(10, 20), (30, 30)])  # an empty span inside [a, b)
    assert not overlaps(5, 5, Spans())
