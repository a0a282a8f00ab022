"""Refusals in one answer: find the refusal cues, then decide full / partial / none and a category.

A refusal is full unless enough of the rest of the answer is content: offers, apologies, hotline
pointers and the reasons given for refusing are not counted as content.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass

from llmvet.validators.uncertainty.cues import CueSet
from llmvet.validators.uncertainty.hits import (
    SENTENCE,
    Analysis,
    Hit,
    Options,
    Span,
    Spans,
    clean,
    cue_matches,
    overlaps,
    sentences,
    vetoed,
)
from llmvet.validators.uncertainty.keywords import ASIDES, Named
from llmvet.validators.uncertainty.openers import Openers, openers
from llmvet.validators.uncertainty.patterns import Pattern
from llmvet.validators.uncertainty.scanners import lean
from llmvet.validators.uncertainty.text import Views, count_words

REASON_MAX_WORDS = 40  # a longer sentence after a refusal is taken as content even when it names a reason
REFUSAL_SECTIONS = ("refusal", "refusal_capability", "refusal_policy", "deflection")
FIXED_CATEGORY = {"refusal_capability": "capability", "refusal_policy": "policy", "deflection": "deflection"}
_FOUND_SECTIONS = (*REFUSAL_SECTIONS, "deflection_weak")  # the sections find_refusals reads, in order
REASON_CATEGORIES = ("safety", "policy")  # the categories whose words are reasons (cues.build: CueSet.reasons)
_PIVOT_START = re.compile(
    r"(?:that said|that being said|having said that|however|but|still|here(?:'s| is| are)|what i can|in general|generally|"
    r"as (?:a|some) general (?:information|background|context))(?!\w)"
)
_PIVOT = re.compile(
    r"(?<!\w)(?:but|however|that said|instead|in general|generally|here(?:'s| is| are)|what i can (?:do|say|tell)|"
    r"i can (?:tell|explain|give|share|help|offer|suggest|describe|outline)|"
    r"i(?:'d| would) be (?:happy|glad) to (?:explain|help with|give|share|walk|talk|describe|outline))(?!\w)",
    re.I,
)
_LETTER = re.compile("[A-Za-z]")  # a sentence with one has a word (count_words)


def find_refusals(views: Views, cues: CueSet) -> list[Hit]:
    exclude = cues.get("refusal_exclude")
    hits: list[Hit] = []
    taken = Spans()
    for section in _FOUND_SECTIONS:
        rx = cues.get(section)
        if rx is None:
            continue
        for a, b in cue_matches(rx, views.prose):
            if overlaps(a, b, taken) or vetoed(exclude, views.prose, a, b):
                continue
            taken.append((a, b))
            hits.append(Hit(section, a, b, clean(views.original("prose", a, b))))
    hits.sort(key=lambda h: h.start)
    return hits


def classify_refusal(views: Views, cues: CueSet, opts: Options, hits: list[Hit], prompt: str, out: Analysis) -> None:
    if not hits:
        return
    whole = cues.full or cues
    named = None if whole.keywords is None else whole.keywords.in_view(views.prose, views.prose_data)
    substantive, pivot = _answer_words(views, cues, hits, named)
    out.substantive_words = substantive

    strong = [h for h in hits if h.kind in REFUSAL_SECTIONS and _leads(views, h)]
    if strong:
        # After a turn to the answer ("but", "that said, here is") less text is needed to count as partial.
        enough = substantive >= (opts.partial_min_words // 2 if pivot else opts.partial_min_words)
        out.refusal_level = "partial" if enough else "full"
        lead_hits = strong
    elif substantive < opts.deflection_max_words:
        out.refusal_level = "full"
        lead_hits = hits
    else:
        return
    out.refusals = lead_hits
    wider: dict[int, str | None] = {}
    cats = [_category(h, views, cues, prompt, wider, named) for h in lead_hits]
    out.refusal_category = cats[0]
    out.refusal_categories = sorted(set(cats))
    out.refusal_score = 0.9 if out.refusal_level == "full" else 0.6


@dataclass(slots=True)
class _Asides:
    """Sentences around a refusal that are not an answer: offers, apologies, support pointers, reasons."""

    filler: Pattern | None
    support: Pattern | None
    reasons: list[re.Pattern[str]]  # the safety and policy categories' keywords
    alternative: Pattern | None
    any_reason: re.Pattern[str] | None  # one pattern for `reasons` (alternatives.any_of; None: not made)
    # where the prose's reasons' words start (keywords.Named.starts; None: anywhere): a sentence without one
    # gives no reason (most sentences, told without a search of each)
    reason_starts: list[int] | None = None
    # what a match of `filler`, `support`, `alternative` can begin with (openers.py; None: not known): most
    # sentences begin otherwise, and a `match` that fails cost ~3-6 k instructions
    filler_heads: Openers | None = None
    support_heads: Openers | None = None
    alternative_heads: Openers | None = None

    @classmethod
    def of(cls, cues: CueSet, prose: str | None = None, named: Named | None = None) -> _Asides:
        """The asides' patterns; with the `prose` their sentences are parts of, each list without its
        entries that scan a sentence for words the prose does not have (scanners.py: the same answers),
        and with `named`, where in the prose the reasons' words are."""
        # (No RE2 prefilter narrows the reasons to the prose's windows: its DFA is built lazily from the
        # text it reads; read once, the 539 dev answers' refusal pass cost 0.089 ms/KB with it, 0.048
        # without.)
        reasons = [rx for cat, rx in cues.categories.items() if cat in REASON_CATEGORIES]
        filler, support, alternative = (_here(cues.get(s), prose, named, s) for s in ASIDES)
        heads = (openers(filler), openers(support), openers(alternative))
        named_at = None if named is None else named.starts(REASON_CATEGORIES)
        return cls(filler, support, reasons, alternative, (cues.full or cues).reasons, named_at, *heads)

    def offers_alternative(self, sentence: str) -> bool:
        """ "If you're trying to…, use…", "Alternatives that work:": another route, not the answer asked for."""
        if self.alternative is None:
            return False
        sentence = sentence.lstrip("-*# ")
        heads = self.alternative_heads
        return (heads is None or heads.may_match(sentence)) and self.alternative.match(sentence) is not None

    def offer_or_support(self, sentence: str) -> bool:
        # Offers, apologies and hotline pointers are not an answer; a long sentence that starts
        # with "I can tell you..." usually is.
        filler, heads = self.filler, self.filler_heads
        if (
            filler is not None
            and (heads is None or heads.may_match(sentence))
            and filler.match(sentence[:80])
            and count_words(sentence) <= 25
        ):
            return True
        # crisis pointers and moralising after a refusal, at any length
        support, heads = self.support, self.support_heads
        return (
            support is not None and (heads is None or heads.may_match(sentence)) and support.match(sentence) is not None
        )

    def reason(self, sentence: str, span: Span | None = None) -> bool:
        """Does `sentence` give a reason for refusing? (`span`: the part of the prose it was stripped from.)"""
        starts = self.reason_starts
        if span is not None and starts is not None:
            i = bisect_left(starts, span[0])
            if i == len(starts) or starts[i] >= span[1]:
                return False  # (no reason's word in it)
        if self.any_reason is not None:
            found = self.any_reason.search(sentence) is not None
        else:
            found = any(rx.search(sentence) for rx in self.reasons)
        return found and count_words(sentence) <= REASON_MAX_WORDS


def warm_asides(cues: CueSet) -> None:
    """Work out the asides' lean lists (scanners.lean, cached) now: ~12 ms once, not in the first refused answer."""
    _Asides.of(cues, "")


def _here(rx: Pattern | None, prose: str | None, named: Named | None = None, aside: str = "") -> Pattern | None:
    """The `aside` list `rx` as the `prose` needs it (`named`: the keyword pass over it, keywords.py)."""
    split = None if prose is None else lean(rx)
    if split is None:
        return rx
    held = None if named is None else named.holds(aside)
    return rx if (split.may_scan(prose or "") if held is None else held) else split.rx


def _answer_words(views: Views, cues: CueSet, hits: list[Hit], named: Named | None = None) -> tuple[int, bool]:
    """Words of the answer that are content rather than refusal, and whether it turns to an answer.

    Counted as all the prose's words less those of the sentences that are not content: every word is in
    one sentence (SENTENCE splits at characters no word has), so most sentences are never counted."""
    # Sentence span -> end of the last refusal cue in it (what follows a pivot there is an answer).
    cue_end: dict[Span, int] = {}
    for h in hits:
        bounds = views.sentence_bounds(h.start)
        cue_end[bounds] = max(cue_end.get(bounds, 0), h.end)
    lo, hi = min(s for s, _ in cue_end), max(e for _, e in cue_end)  # (no other sentence holds a cue)
    asides = _Asides.of(cues, views.prose, named)
    prose = views.prose
    skipped = after_pivots = 0  # words of the sentences that are not content; of the answers after a pivot
    content = pivot = after_refusal = refusal_seen = alternatives = False  # content: a word of it so far
    for m in sentences(prose, views.prose_data):
        a, b = m.span()
        sentence = prose[a:b].strip()
        if not sentence:
            continue
        end = max((v for (s, e), v in cue_end.items() if s < b and a < e), default=-1) if a < hi and lo < b else -1
        if end >= 0:  # a refusal cue in this sentence
            # "I can't diagnose this, but while you wait: ..." - what follows the pivot is an answer.
            m_pivot = _PIVOT.search(prose, max(a, end), b)
            if m_pivot:
                pivot = True
                after_pivots += (words := count_words(prose, m_pivot.end(), b))
                content = content or words > 0
            skipped += count_words(sentence)
            after_refusal = refusal_seen = True
            continue
        # "I can't pick for you. That said, here is how they compare: ..." (counted below, once the sentence is
        # known not to be an offer or support)
        turns = not content and refusal_seen and _PIVOT_START.match(sentence) is not None
        if asides.offer_or_support(sentence):
            skipped += count_words(sentence)
            continue
        # a refusal followed by other routes is still a full refusal: the rest is the alternatives
        alternatives = alternatives or (
            refusal_seen and not pivot and not turns and asides.offers_alternative(sentence)
        )
        # The reasons given after a refusal ("X is illegal and dangerous", "it would violate their
        # privacy") are not an answer, until the answer turns to content ("but", "that said, here is").
        if not turns and (
            alternatives or ((after_refusal or (refusal_seen and not pivot)) and asides.reason(sentence, (a, b)))
        ):
            skipped += count_words(sentence)
            after_refusal = after_refusal and alternatives
            continue
        after_refusal = False
        pivot = pivot or turns
        content = content or _LETTER.search(sentence) is not None
    code_words = count_words(views.text) - views.prose_words if views.has_code else 0
    return views.prose_words - skipped + after_pivots + code_words, pivot


def _leads(views: Views, hit: Hit) -> bool:
    if hit.start <= 0.35 * len(views.prose.rstrip()):
        return True
    # fewer than 3 sentences before the hit's (counted up to 3: the prose may be long)
    seen = 0
    for m in SENTENCE.finditer(views.prose, 0, views.sentence_bounds(hit.start)[0]):
        if m.group().strip():
            seen += 1
            if seen == 3:
                return False
    return True


def _category(
    hit: Hit, views: Views, cues: CueSet, prompt: str, wider: dict[int, str | None], named: Named | None = None
) -> str:
    """The hit's category: the one most named around it, else in the whole answer, else in the prompt
    (those two are the same for every hit: worked out once, in `wider`). `named`: where the prose may
    name each category (keywords.py)."""
    if hit.kind in FIXED_CATEGORY:
        return FIXED_CATEGORY[hit.kind]
    if hit.kind == "deflection_weak":
        return "deflection"
    a, b = views.sentence_bounds(hit.start)
    _, b2 = views.sentence_bounds(min(b + 1, len(views.prose)))
    best = _most_named(cues, views.prose[a:b2], named, a)
    for i, scope in enumerate((views.prose, prompt)):
        if best is not None:
            return best
        if i not in wider:
            wider[i] = _most_named(cues, scope, named if i == 0 else None)
        best = wider[i]
    return best if best is not None else "unspecified"


def _most_named(cues: CueSet, scope: str, named: Named | None = None, at: int = 0) -> str | None:
    """The category with the most matches in `scope` (the first of those tied; None: none), which is
    prose[at:at + len(scope)] where `named` is given (a category not named there is not counted)."""
    best, best_n = None, 0
    for cat, rx in cues.categories.items():
        if named is not None and not named.may_name((cat,), at, at + len(scope)):
            continue  # (no match there)
        n = len(rx.findall(scope))
        if n > best_n:
            best, best_n = cat, n
    return best
