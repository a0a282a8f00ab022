"""Explicit uncertainty statements in one answer: listed cues, structural frames, the backstop, and the
sentences left over for the embedding pass.

Each view (prose, then code comments) gets one `_ViewPass`; the passes run in a fixed order, each
blocking the spans the earlier ones took, so a sentence is reported once and by the strongest rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from llmvet.validators.uncertainty import frames
from llmvet.validators.uncertainty.cues import CueSet
from llmvet.validators.uncertainty.hits import (
    BACKSTOP,
    CAVEAT,
    FILLER,
    FRAME,
    SCORES,
    SENTENCE,
    STRONG,
    Analysis,
    Hit,
    Options,
    Span,
    Spans,
    clean,
    cue_matches,
    cue_spans,
    overlaps,
    vetoed,
)
from llmvet.validators.uncertainty.patterns import Pattern
from llmvet.validators.uncertainty.starts import Indexed
from llmvet.validators.uncertainty.text import Views, build_views, count_words

MAX_CANDIDATES = 24  # sentences per answer sent to the embedding pass (about 1 ms each on 2 cores)
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
# "**Dr. Okafor:** ...", but not the author's own "P.S.:" / "Note:" line
_SPEAKER_LINE = re.compile(
    r"[ \t>*_-]*(?!(?:p\.?s|n\.?b|note|notes|update|edit|caveat|disclaimer|fyi|tip|heads[- ]up)\b)[a-z][\w.' -]{0,30}[*_ \t]*:[ \t]"
)
_INABILITY = re.compile(r"i (?:can't|cannot|can not|couldn't|could not)|i'm (?:unable|not able)")

Candidate = tuple[int, int, str]


def statement_candidates(view: str, cues: CueSet) -> list[Candidate]:
    out: list[Candidate] = []
    for section, kind in (("statement_strong", STRONG), ("statement_caveat", CAVEAT)):
        out += [(a, b, kind) for a, b in cue_matches(cues.get(section), view)]
    return out


def find_statements(
    views: Views,
    cues: CueSet,
    opts: Options,
    refusal_spans: list[Span],
    prose_candidates: list[Candidate],
    out: Analysis,
    backstop: bool = True,
    skip_blank: bool = True,
) -> None:
    """Fill `out.statements` (and, when collecting and no statement counts, `out.candidates`); spans
    are offsets into the views.

    `cues` are the prose's (CueSet.for_text); the comments get their own. A comment view that is all
    blanks (code without comments: most code) has no statement and no candidate, and with `skip_blank`
    is not scanned (its start pass and the scans of every section cost ~0.05 ms per answer)."""
    sources = [("prose", views.prose, prose_candidates, cues)]
    if opts.code_comments and views.has_code and not (skip_blank and (not views.comments or views.comments.isspace())):
        comment_cues = cues.for_text(views.comments)
        sources.append(("comment", views.comments, statement_candidates(views.comments, comment_cues), comment_cues))
    passes = []
    for where, view, candidates, view_cues in sources:
        refusals = refusal_spans if where == "prose" else []
        p = _ViewPass(views, where, view, view_cues, opts, out, refusals, not backstop)
        blocked = p.listed(candidates)
        p.framed(blocked)
        p.backstopped(blocked)
        passes.append((p, blocked))
    best = out.best_statement
    if opts.collect_candidates and best is None:  # the embedding pass only looks when the rules found none
        for p, blocked in passes:
            p.collect(blocked)
    if not out.statements:  # (most answers: nothing to sort or score)
        out.statement_present, out.statement_score = False, 0.0
        return
    out.statements.sort(key=lambda h: h.start)
    out.statement_present = best is not None
    out.statement_score = best.score if best else max(h.score for h in out.statements)


@dataclass(slots=True)
class _ViewPass:
    """The statement rules over one view ("prose" or "comment")."""

    views: Views
    where: str
    view: str
    cues: CueSet
    opts: Options
    out: Analysis
    refusals: list[Span]  # refusal cue spans (prose only: comments carry no refusals)
    persona: bool  # the prompt asked for a text written for the user (letter, post, song)
    tail: int = 0
    verse: list[Span] = field(default_factory=list)
    exclude: Pattern | None = None

    def __post_init__(self) -> None:
        # For a text written for the user, only the closing paragraph can be the author's own note
        # ("I wasn't sure whether he goes by Dan, so I went with Dan").
        self.tail = _last_paragraph_start(self.view) if self.persona and self.where == "prose" else 0
        self.verse = _verse_spans(self.view) if self.persona else []
        self.exclude = self.cues.get("statement_exclude")

    def character(self, a: int) -> bool:
        """Written for the user (a song, poem, letter or dialogue): its "I'm not sure" is a character's."""
        if not self.persona:
            return False
        if a < self.tail or any(s <= a < e for s, e in self.verse):
            return True
        return bool(_SPEAKER_LINE.match(self.view, self.view.rfind("\n", 0, a) + 1))

    def add(self, kind: str, a: int, b: int, score: float, to: list[Hit] | None = None) -> None:
        text = clean(self.views.original(self.where, a, b))
        (self.out.statements if to is None else to).append(Hit(kind, a, b, text, score, self.where))

    def _skipped(self, a: int, b: int, taken: Spans) -> bool:
        # (prose candidates were already checked against the exclusions in analyse())
        if overlaps(a, b, taken) or (self.where != "prose" and vetoed(self.exclude, self.view, a, b)):
            return True
        if overlaps(a, b, self.refusals):
            return True  # a refusal is not an uncertainty statement
        if self.refusals and _INABILITY.match(self.view, a) and overlaps(*_sentence_of(self.view, a, b), self.refusals):
            return True  # "I can't see images, so I can't tell which breed it is": an inability, not a doubt
        return self.character(a)

    def listed(self, candidates: list[Candidate]) -> Spans:
        """Cue-list statements and filler; returns the spans later passes must leave alone."""
        filler_spans = cue_spans(self.cues.get("filler"), self.view)
        if not candidates and not filler_spans:
            return Spans(self.refusals)  # (most views: nothing listed)
        filler, taken = Spans(filler_spans), Spans()
        for a, b, kind in candidates:
            if self._skipped(a, b, taken):
                continue
            k = FILLER if overlaps(a, b, filler) else kind
            taken.append((a, b))
            self.add(k, a, b, _score(k, self.opts))
        for a, b in filler_spans:
            if not overlaps(a, b, taken):
                self.add(FILLER, a, b, _score(FILLER, self.opts))
        return Spans([*filler_spans, *taken, *self.refusals])

    def framed(self, blocked: Spans) -> None:
        """Structural frames (frames.py) catch wordings the lists don't spell out. Like the backstop, they
        look only at the closing paragraph for persona/creative prompts, and never override a refusal or
        an exclusion."""
        self_veto = self.cues.get("backstop_exclude")
        for a, b in frames.find(self.view, self.cues):
            if (
                self.character(a)
                or overlaps(a, b, blocked)
                or vetoed(self.exclude, self.view, a, b)
                or vetoed(self_veto, self.view, a, b)
            ):
                continue
            if self.refusals and overlaps(*_sentence_of(self.view, a, b), self.refusals):
                continue  # "I can't access websites, so I can't check it": an inability, not a doubt
            self.add(FRAME, a, b, SCORES[FRAME])
            blocked.append((a, b))

    def backstopped(self, blocked: Spans) -> None:
        for a, b in _backstop(self.view, self.cues, blocked):
            if not self.character(a) and not vetoed(self.exclude, self.view, a, b):
                self.add(BACKSTOP, a, b, SCORES[BACKSTOP])
                blocked.append((a, b))

    def collect(self, blocked: Spans) -> None:
        for a, b in _gate_sentences(self.view, self.cues, blocked):
            if not self.character(a) and not vetoed(self.exclude, self.view, a, b):
                self.add("candidate", a, b, 0.0, to=self.out.candidates)


def _last_paragraph_start(view: str) -> int:
    starts = [m.end() for m in _PARAGRAPH_BREAK.finditer(view.rstrip())]
    return starts[-1] if starts else 0


def _verse_spans(view: str) -> list[Span]:
    """Paragraphs of short lines that mostly don't end a sentence (lyrics, a poem), computed once per view."""
    out = []
    start = 0
    for end, next_start in [(m.start(), m.end()) for m in _PARAGRAPH_BREAK.finditer(view)] + [(len(view), len(view))]:
        lines = [line.strip() for line in view[start:end].splitlines() if line.strip()]
        open_ended = sum(1 for line in lines if line[-1] not in ".!?:" and len(line.split()) <= 16)
        if len(lines) >= 3 and open_ended * 2 >= len(lines):
            out.append((start, end))
        start = next_start
    return out


def _sentence_of(view: str, a: int, b: int) -> Span:
    start = max(view.rfind(c, 0, a) for c in ".!?\n") + 1
    ends = [i for i in (view.find(c, b) for c in ".!?\n") if i >= 0]
    return start, min(ends, default=len(view))


def _backstop(view: str, cues: CueSet, blocked: Spans) -> list[Span]:
    """Sentences in the author's voice that talk about how sure they are, missed by the phrase lists."""
    person, epistemic = cues.get("backstop_person"), cues.get("backstop_epistemic")
    if person is None or epistemic is None:
        return []
    veto = cues.get("backstop_exclude")
    out = []
    for a, b in _sentences_with(view, epistemic):
        if b - a < 8 or overlaps(a, b, blocked):
            continue
        if person.search(view, a, b) and epistemic.search(view, a, b) and not (veto and veto.search(view, a, b)):
            while a < b and not view[a].isalnum() and view[a] != "(":
                a += 1
            out.append((a, b))
    return out


def _sentences_with(view: str, rx: Pattern) -> Iterator[Span]:
    """The SENTENCE spans of `view` in which a match of `rx` may start, in order. Most sentences have no
    epistemic word: with a start index (starts.Indexed) the sentences are found from its starts, not by
    walking them all. (A start on a sentence's last character, "\\n.!?", is read the long way.)"""
    if not isinstance(rx, Indexed) or rx.text is not view:
        yield from (m.span() for m in SENTENCE.finditer(view))  # (any of them may hold a match)
        return
    starts = rx.starts()
    if any(view[p] in "\n.!?" for p in starts):
        yield from (m.span() for m in SENTENCE.finditer(view) if rx.can_start_in(view, *m.span()))
        return
    end = 0
    for p in starts:
        if p < end:
            continue  # (in the sentence just given)
        # the sentence begins after the last "\n.!?" before p (SENTENCE: a run of other characters, then
        # "[.!?]+" or the line's end)
        a = max(view.rfind("\n", 0, p), view.rfind(".", 0, p), view.rfind("!", 0, p), view.rfind("?", 0, p)) + 1
        m = SENTENCE.match(view, a)
        if m is not None:
            end = m.end()
            yield a, end


def _gate_sentences(view: str, cues: CueSet, blocked: list[Span] | Spans) -> list[Span]:
    """Sentences worth a look from the statement classifier: the author's voice, a word about knowing or
    checking, or a caveat label. Ones with such a word come first; at most MAX_CANDIDATES (cost bound)."""
    person = cues.get("backstop_person")
    topical = [rx for rx in (cues.get("backstop_epistemic"), cues.get("embedding_gate")) if rx is not None]
    if person is None and not topical:
        return []
    strong: list[Span] = []
    weak: list[Span] = []
    for m in SENTENCE.finditer(view):
        a, b = m.span()
        if count_words(view, a, b) < 4 or overlaps(a, b, blocked):
            continue  # "(I'm sitting.)": too short to say what it is about
        if any(rx.search(view, a, b) for rx in topical):
            bucket = strong
        elif person is not None and person.search(view, a, b):
            bucket = weak
        else:
            continue
        while a < b and not view[a].isalnum():
            a += 1
        bucket.append((a, b))
    return sorted((strong + weak)[:MAX_CANDIDATES])


def gate_sentences(text: str, cues: CueSet, code_comments: bool = True) -> list[Hit]:
    """Every sentence the classifier could be asked about (prose, then code comments), with no rule
    blocking: the training script uses this so it learns from the same text the validator sends."""
    views = build_views(text)
    sources = [("prose", views.prose)]
    if code_comments and views.has_code:
        sources.append(("comment", views.comments))
    out = []
    for where, view in sources:
        for a, b in _gate_sentences(view, cues, []):
            start, end = views.span(where, a, b)
            out.append(Hit("candidate", start, end, clean(views.original(where, a, b)), 0.0, where))
    return out


def _score(kind: str, opts: Options) -> float:
    if kind == FILLER and opts.filler_counts:
        return 0.6
    return SCORES[kind]
