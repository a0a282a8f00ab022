"""What the rule path finds and reports: hit kinds and scores, `Options`, `Hit`, `Analysis`, and the
span helpers that the statement, hedge and refusal passes share."""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from llmvet.validators.uncertainty.patterns import Pattern

STRONG, CAVEAT, FRAME, BACKSTOP, FILLER = "explicit", "caveat", "frame", "backstop", "filler"
SCORES = {STRONG: 0.95, CAVEAT: 0.85, FRAME: 0.8, BACKSTOP: 0.7, FILLER: 0.4}
SENTENCE = re.compile(r"[^\n.!?]+(?:[.!?]+|$)", re.M)


def _marks(breaks: bytes) -> bytes:
    return bytes(110 if c == 10 else 112 if c in breaks else 97 for c in range(256))


# A view as one byte a character (`sentences`): "n" for "\n", "p" for a break in `breaks`, "a" for any
# other. A sentence is then an "a" run and the "p" run after it: `re` reads a run of "a" ~10x faster than
# one of `[^\n.!?]` (a class is tested character by character, ~40 instructions each).
_MARKS, _MARKS_NO_QUESTION = _marks(b".!?"), _marks(b".!")
_RUN = re.compile(rb"a+p*")

Span = tuple[int, int]


@dataclass(slots=True)
class Options:
    filler_counts: bool = False
    code_comments: bool = True
    hedge_threshold: float = 4.0  # weighted hedge cues per 100 prose words that make hedging "heavy"
    hedge_min_count: float = 3.0  # and at least this many weighted cues (one "may" in 10 words is not heavy)
    hedge_light_min: float = 0.5  # weighted cues that make hedging "light" (0.5: one weasel phrase is enough)
    hedge_frequency_weight: float = 0.0  # "usually", "roughly": how often or how much, not a weakened claim
    partial_min_words: int = 30  # substantive words beyond the refusal that make it partial, not full
    deflection_max_words: int = 25  # a bare redirection ("ask your doctor") is a deflection only below this
    collect_candidates: bool = False  # keep first-person sentences without a statement (for the embedding pass)


@dataclass(slots=True)
class Hit:
    kind: str
    start: int
    end: int
    text: str
    score: float = 1.0
    where: str = "prose"  # prose | comment


@dataclass(slots=True)
class Analysis:
    statements: list[Hit] = field(default_factory=list)  # all candidates, incl. filler
    statement_present: bool = False
    statement_score: float = 0.0
    hedges: list[Hit] = field(default_factory=list)
    hedge_weight: float = 0.0
    hedge_density: float = 0.0  # weighted cues per 100 prose words
    hedge_level: str = "none"  # none | light | heavy
    refusal_level: str = "none"  # none | partial | full
    refusal_category: str | None = None
    refusal_categories: list[str] = field(default_factory=list)
    refusals: list[Hit] = field(default_factory=list)
    refusal_score: float = 0.0
    substantive_words: int = 0
    prose_words: int = 0
    code_only: bool = False
    # sentences for the embedding pass (collect_candidates), gathered only when no statement counts
    candidates: list[Hit] = field(default_factory=list)

    @property
    def best_statement(self) -> Hit | None:
        if not self.statements:
            return None  # (most answers: no list of them made)
        counted = [h for h in self.statements if h.score >= 0.5]
        return max(counted, key=lambda h: h.score, default=None)


def sentences(prose: str, data: bytes | None = None) -> Iterator[re.Match[Any]]:
    """`SENTENCE.finditer(prose)`: the same spans (`data`: `prose.encode("ascii", "replace")`, where the
    caller has it). That encoding has "?" for each character beyond ASCII: where the prose has no "?" of
    its own each "?" is such a character (no break), where all are its own each is a break; the rare
    prose with both is read as it is. (On the benchmark pass's refused answers, 72 M instructions went
    to walking their sentences, ~17 M of them to the class.)"""
    if data is None:
        data = prose.encode("ascii", "replace")
    own = prose.count("?")
    if own == data.count(b"?"):
        return _RUN.finditer(data.translate(_MARKS))
    if not own:
        return _RUN.finditer(data.translate(_MARKS_NO_QUESTION))
    return SENTENCE.finditer(prose)


def cue_spans(rx: Pattern | None, text: str) -> list[Span]:
    return [] if rx is None else [m.span() for m in rx.finditer(text) if m.end() > m.start()]


def cue_matches(rx: Pattern | None, text: str) -> list[Span]:
    """Match spans with surrounding blanks/punctuation trimmed (entries may start with an optional ' ?')."""
    out: list[Span] = []
    if rx is None:
        return out
    for m in rx.finditer(text):
        a, b = m.span()
        while a < b and not text[a].isalnum():
            a += 1
        while b > a and text[b - 1] in " \t\n,;:-—–":
            b -= 1
        if b > a:
            out.append((a, b))
    return out


def overlaps(a: int, b: int, spans: list[Span] | Spans) -> bool:
    """Does any of `spans` overlap [a, b) (start before b, end after a)?"""
    if isinstance(spans, Spans):
        return spans.overlap(a, b)
    for s, e in spans:  # noqa: SIM110 - a loop, not any() over a generator (~12,600 calls a pass, most of few spans)
        if s < b and a < e:
            return True
    return False


class Spans:
    """Spans that grow as hits are taken, asked `overlaps` in O(log n + nearby) rather than one check per
    span: kept sorted by start, with the longest length known, a span that ends after `a` starts after
    `a - longest`, so only the spans starting in (a - longest, b) are looked at. Same answers as the list
    (tests/validators/uncertainty/test_spans.py compares them)."""

    __slots__ = ("_ends", "_longest", "_starts")

    def __init__(self, spans: Iterable[Span] = ()) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._longest = 0
        for span in spans:
            self.append(span)

    def append(self, span: Span) -> None:
        s, e = span
        i = bisect_right(self._starts, s)
        self._starts.insert(i, s)
        self._ends.insert(i, e)
        if e - s > self._longest:
            self._longest = e - s

    def overlap(self, a: int, b: int) -> bool:
        starts = self._starts
        hi = bisect_left(starts, b)  # spans starting before b
        if not hi:
            return False  # (none: most asks, as most views have few spans)
        lo = bisect_right(starts, a - self._longest, 0, hi)  # the rest end at or before a
        ends = self._ends
        for i in range(lo, hi):  # noqa: SIM110 - (as in `overlaps`)
            if ends[i] > a:
                return True
        return False

    def __iter__(self) -> Iterator[Span]:
        return zip(self._starts, self._ends, strict=True)

    def __len__(self) -> int:
        return len(self._starts)


def clean(s: str) -> str:
    return " ".join(s.split())


def vetoed(rx: Pattern | None, view: str, a: int, b: int) -> bool:
    """Does a match of `rx` overlap [a, b)? Searched near the span only (exclusions are rare)."""
    if rx is None:
        return False
    lo, hi = max(0, a - 160), min(len(view), b + 160)
    return any(m.start() < b and a < m.end() for m in rx.finditer(view, lo, hi))
