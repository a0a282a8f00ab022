"""The rule path: find explicit uncertainty statements, hedge cues and refusals in one answer.

Pure functions over `Views` (no I/O), so the validator can run them in the CPU pool and the
benchmarks can call them directly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from llmvet.validators.uncertainty import frames
from llmvet.validators.uncertainty.cues import CueSet
from llmvet.validators.uncertainty.text import Views, build_views, count_words

STRONG, CAVEAT, FRAME, BACKSTOP, FILLER = "explicit", "caveat", "frame", "backstop", "filler"
SCORES = {STRONG: 0.95, CAVEAT: 0.85, FRAME: 0.8, BACKSTOP: 0.7, FILLER: 0.4}
REASON_MAX_WORDS = 40  # a longer sentence after a refusal is taken as content even when it names a reason
MAX_CANDIDATES = 24  # sentences per answer sent to the embedding pass (about 1 ms each on 2 cores)
HEDGE_WEIGHTS = {"hedge": 1.0, "hedge_weak": 0.5}
REFUSAL_SECTIONS = ("refusal", "refusal_capability", "refusal_policy", "deflection")
FIXED_CATEGORY = {"refusal_capability": "capability", "refusal_policy": "policy", "deflection": "deflection"}
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
# "**Dr. Okafor:** ...", but not the author's own "P.S.:" / "Note:" line
_SPEAKER_LINE = re.compile(
    r"[ \t>*_-]*(?!(?:p\.?s|n\.?b|note|notes|update|edit|caveat|disclaimer|fyi|tip|heads[- ]up)\b)[a-z][\w.' -]{0,30}[*_ \t]*:[ \t]"
)
_INABILITY = re.compile(r"i (?:can't|cannot|can not|couldn't|could not)|i'm (?:unable|not able)")
_PIVOT_START = re.compile(
    r"(?:that said|that being said|having said that|however|but|still|here(?:'s| is| are)|what i can|in general|generally|"
    r"as (?:a|some) general (?:information|background|context))(?!\w)"
)
_SENTENCE = re.compile(r"[^\n.!?]+(?:[.!?]+|$)", re.M)
_PIVOT = re.compile(
    r"(?<!\w)(?:but|however|that said|instead|in general|generally|here(?:'s| is| are)|what i can (?:do|say|tell)|"
    r"i can (?:tell|explain|give|share|help|offer|suggest|describe|outline)|"
    r"i(?:'d| would) be (?:happy|glad) to (?:explain|help with|give|share|walk|talk|describe|outline))(?!\w)",
    re.I,
)


@dataclass(slots=True)
class Options:
    filler_counts: bool = False
    code_comments: bool = True
    hedge_threshold: float = 4.0  # weighted hedge cues per 100 prose words that make hedging "heavy"
    hedge_min_count: float = 3.0  # and at least this many weighted cues (one "may" in 10 words is not heavy)
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
    candidates: list[Hit] = field(default_factory=list)  # sentences for the embedding pass (collect_candidates)

    @property
    def best_statement(self) -> Hit | None:
        counted = [h for h in self.statements if h.score >= 0.5]
        return max(counted, key=lambda h: h.score, default=None)


def _spans(rx: re.Pattern[str] | None, text: str) -> list[tuple[int, int]]:
    return [] if rx is None else [m.span() for m in rx.finditer(text) if m.end() > m.start()]


def _matches(rx: re.Pattern[str] | None, text: str) -> list[tuple[int, int]]:
    """Match spans with surrounding blanks/punctuation trimmed (entries may start with an optional ' ?')."""
    out = []
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


def _overlaps(a: int, b: int, spans: list[tuple[int, int]]) -> bool:
    return any(s < b and a < e for s, e in spans)


def _clean(s: str) -> str:
    return " ".join(s.split())


def analyse(text: str, cues: CueSet, options: Options | None = None, prompt: str = "") -> Analysis:
    opts = options or Options()
    views = build_views(text)
    out = Analysis(prose_words=views.prose_words, code_only=views.code_only)
    prose_candidates = _statement_candidates(views.prose, cues)
    refusal_hits = _find_refusals(views, cues)
    # "I can't tell you with any confidence whether..." is a statement, not a refusal: where a
    # statement cue overlaps a refusal cue, the statement wins.
    exclude = cues.get("statement_exclude")
    prose_candidates = [c for c in prose_candidates if not _vetoed(exclude, views.prose, c[0], c[1])]
    strong = [(a, b) for a, b, _ in prose_candidates]
    refusal_hits = [h for h in refusal_hits if not _overlaps(h.start, h.end, strong)]
    refusal_spans = [(h.start, h.end) for h in refusal_hits]
    asked = prompt.lower()
    persona = cues.get("persona_prompt")
    backstop = not (asked and persona is not None and persona.search(asked))
    roleplay = cues.get("roleplay_prompt")
    if not (asked and roleplay is not None and roleplay.search(asked)):
        _find_statements(views, cues, opts, refusal_spans, prose_candidates, out, backstop)
    _find_hedges(views, cues, opts, out)
    _classify_refusal(views, cues, opts, refusal_hits, prompt, out)
    # Detection ran on squeezed views; report spans as offsets into the answer text.
    for h in (*out.statements, *out.hedges, *out.refusals, *out.candidates):
        h.start, h.end = views.span(h.where, h.start, h.end)
    return out


def _vetoed(rx: re.Pattern[str] | None, view: str, a: int, b: int) -> bool:
    """Does a match of `rx` overlap [a, b)? Searched near the span only (exclusions are rare)."""
    if rx is None:
        return False
    lo, hi = max(0, a - 160), min(len(view), b + 160)
    return any(m.start() < b and a < m.end() for m in rx.finditer(view, lo, hi))


# --- statements -------------------------------------------------------------------------------------


def _statement_candidates(view: str, cues: CueSet) -> list[tuple[int, int, str]]:
    out: list[tuple[int, int, str]] = []
    for section, kind in (("statement_strong", STRONG), ("statement_caveat", CAVEAT)):
        out += [(a, b, kind) for a, b in _matches(cues.get(section), view)]
    return out


def _find_statements(
    views: Views,
    cues: CueSet,
    opts: Options,
    refusal_spans: list,
    prose_candidates: list,
    out: Analysis,
    backstop: bool = True,
) -> None:
    sources = [("prose", views.prose, prose_candidates)]
    if opts.code_comments and views.has_code:
        sources.append(("comment", views.comments, _statement_candidates(views.comments, cues)))
    exclude = cues.get("statement_exclude")
    self_veto = cues.get("backstop_exclude")
    persona = not backstop
    for where, view, candidates in sources:
        # For a text written for the user (letter, post, song), only the closing paragraph can be the
        # author's own note ("I wasn't sure whether he goes by Dan, so I went with Dan").
        tail = _last_paragraph_start(view) if persona and where == "prose" else 0

        verse = _verse_spans(view) if persona else []

        def characters(a: int, view: str = view, tail: int = tail, verse: list[tuple[int, int]] = verse) -> bool:
            """Written for the user (a song, poem, letter or dialogue): its "I'm not sure" is a character's."""
            if not persona:
                return False
            if a < tail or any(s <= a < e for s, e in verse):
                return True
            return bool(_SPEAKER_LINE.match(view, view.rfind("\n", 0, a) + 1))

        filler = _spans(cues.get("filler"), view)
        spans_taken: list[tuple[int, int]] = []
        for a, b, kind in candidates:
            # (prose candidates were already checked against the exclusions in analyse())
            if _overlaps(a, b, spans_taken) or (where != "prose" and _vetoed(exclude, view, a, b)):
                continue
            if where == "prose" and _overlaps(a, b, refusal_spans):
                continue  # a refusal is not an uncertainty statement
            if where == "prose" and _INABILITY.match(view, a) and _overlaps(*_sentence_of(view, a, b), refusal_spans):
                continue  # "I can't see images, so I can't tell which breed it is": an inability, not a doubt
            if characters(a):
                continue
            k = FILLER if _overlaps(a, b, filler) else kind
            spans_taken.append((a, b))
            out.statements.append(Hit(k, a, b, _clean(views.original(where, a, b)), _score(k, opts), where))
        for a, b in filler:
            if not _overlaps(a, b, spans_taken):
                out.statements.append(Hit(FILLER, a, b, _clean(views.original(where, a, b)), _score(FILLER, opts), where))
        blocked = filler + spans_taken + (refusal_spans if where == "prose" else [])
        # Structural frames (frames.py) catch wordings the lists don't spell out. Like the backstop, they
        # look only at the closing paragraph for persona/creative prompts, and never override a refusal or
        # an exclusion.
        for a, b in frames.find(view):
            if characters(a) or _overlaps(a, b, blocked) or _vetoed(exclude, view, a, b) or _vetoed(self_veto, view, a, b):
                continue
            if where == "prose" and _overlaps(*_sentence_of(view, a, b), refusal_spans):
                continue  # "I can't access websites, so I can't check it": an inability, not a doubt
            out.statements.append(Hit(FRAME, a, b, _clean(views.original(where, a, b)), SCORES[FRAME], where))
            blocked.append((a, b))
        for a, b in _backstop(view, cues, blocked):
            if not characters(a) and not _vetoed(exclude, view, a, b):
                out.statements.append(Hit(BACKSTOP, a, b, _clean(views.original(where, a, b)), SCORES[BACKSTOP], where))
                blocked.append((a, b))
        if opts.collect_candidates:
            for a, b in _gate_sentences(view, cues, blocked):
                if not characters(a) and not _vetoed(exclude, view, a, b):
                    out.candidates.append(Hit("candidate", a, b, _clean(views.original(where, a, b)), 0.0, where))
    out.statements.sort(key=lambda h: h.start)
    best = out.best_statement
    out.statement_present = best is not None
    out.statement_score = best.score if best else max((h.score for h in out.statements), default=0.0)


def _last_paragraph_start(view: str) -> int:
    starts = [m.end() for m in _PARAGRAPH_BREAK.finditer(view.rstrip())]
    return starts[-1] if starts else 0


def _verse_spans(view: str) -> list[tuple[int, int]]:
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


def _sentence_of(view: str, a: int, b: int) -> tuple[int, int]:
    start = max(view.rfind(c, 0, a) for c in ".!?\n") + 1
    ends = [i for i in (view.find(c, b) for c in ".!?\n") if i >= 0]
    return start, min(ends, default=len(view))


def _backstop(view: str, cues: CueSet, blocked: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sentences in the author's voice that talk about how sure they are, missed by the phrase lists."""
    person, epistemic = cues.get("backstop_person"), cues.get("backstop_epistemic")
    if person is None or epistemic is None:
        return []
    veto = cues.get("backstop_exclude")
    out = []
    for m in _SENTENCE.finditer(view):
        a, b = m.span()
        if b - a < 8 or _overlaps(a, b, blocked):
            continue
        if person.search(view, a, b) and epistemic.search(view, a, b) and not (veto and veto.search(view, a, b)):
            while a < b and not view[a].isalnum() and view[a] != "(":
                a += 1
            out.append((a, b))
    return out


def _gate_sentences(view: str, cues: CueSet, blocked: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sentences worth a look from the statement classifier: the author's voice, a word about knowing or
    checking, or a caveat label. Ones with such a word come first; at most MAX_CANDIDATES (cost bound)."""
    person = cues.get("backstop_person")
    topical = [rx for rx in (cues.get("backstop_epistemic"), cues.get("embedding_gate")) if rx is not None]
    if person is None and not topical:
        return []
    strong: list[tuple[int, int]] = []
    weak: list[tuple[int, int]] = []
    for m in _SENTENCE.finditer(view):
        a, b = m.span()
        if count_words(view, a, b) < 4 or _overlaps(a, b, blocked):
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
            out.append(Hit("candidate", start, end, _clean(views.original(where, a, b)), 0.0, where))
    return out


def _score(kind: str, opts: Options) -> float:
    if kind == FILLER and opts.filler_counts:
        return 0.6
    return SCORES[kind]


# --- hedging ----------------------------------------------------------------------------------------


def _find_hedges(views: Views, cues: CueSet, opts: Options, out: Analysis) -> None:
    taken = [(h.start, h.end) for h in out.statements if h.where == "prose"]
    taken += _spans(cues.get("hedge_exclude"), views.prose)
    for section, weight in HEDGE_WEIGHTS.items():
        rx = cues.get(section)
        if rx is None:
            continue
        for a, b in _matches(rx, views.prose):
            if _overlaps(a, b, taken):
                continue
            if section == "hedge" and views.original("prose", a, b) == "May":
                if _month(views.text, views.span("prose", a, b)[1]):
                    continue
            taken.append((a, b))
            out.hedges.append(Hit(section, a, b, _clean(views.original("prose", a, b)), weight))
    out.hedges.sort(key=lambda h: h.start)
    out.hedge_weight = sum(h.score for h in out.hedges)
    out.hedge_density = 100.0 * out.hedge_weight / max(views.prose_words, 1)
    if not out.hedges:
        out.hedge_level = "none"
    elif out.hedge_density >= opts.hedge_threshold and out.hedge_weight >= opts.hedge_min_count:
        out.hedge_level = "heavy"
    else:
        out.hedge_level = "light"


def _month(text: str, end: int) -> bool:
    """'May' followed by a day or year is the month."""
    return bool(re.match(r"\s*(?:\d|of\b|and\b|to\b)", text[end : end + 8]))


# --- refusals ---------------------------------------------------------------------------------------


def _find_refusals(views: Views, cues: CueSet) -> list[Hit]:
    exclude = cues.get("refusal_exclude")
    hits: list[Hit] = []
    taken: list[tuple[int, int]] = []
    for section in (*REFUSAL_SECTIONS, "deflection_weak"):
        rx = cues.get(section)
        if rx is None:
            continue
        for a, b in _matches(rx, views.prose):
            if _overlaps(a, b, taken) or _vetoed(exclude, views.prose, a, b):
                continue
            taken.append((a, b))
            hits.append(Hit(section, a, b, _clean(views.original("prose", a, b))))
    hits.sort(key=lambda h: h.start)
    return hits


def _classify_refusal(views: Views, cues: CueSet, opts: Options, hits: list[Hit], prompt: str, out: Analysis) -> None:
    if not hits:
        return
    # Sentence span -> end of the last refusal cue in it (what follows a pivot there is an answer).
    cue_end: dict[tuple[int, int], int] = {}
    for h in hits:
        bounds = views.sentence_bounds(h.start)
        cue_end[bounds] = max(cue_end.get(bounds, 0), h.end)
    refusal_sentences = list(cue_end)
    filler_rx = cues.get("refusal_filler")
    support_rx = cues.get("refusal_support")
    reasons = [rx for cat, rx in cues.categories.items() if cat in ("safety", "policy")]
    substantive = 0
    pivot = False
    after_refusal = refusal_seen = False
    for m in _SENTENCE.finditer(views.prose):
        a, b = m.span()
        sentence = views.prose[a:b].strip()
        if not sentence:
            continue
        inside = [(s, e) for (s, e) in refusal_sentences if s < b and a < e]
        if inside:
            # "I can't diagnose this, but while you wait: ..." - what follows the pivot is an answer.
            end = max(cue_end[span] for span in inside)
            m_pivot = _PIVOT.search(views.prose, max(a, end), b)
            if m_pivot:
                pivot = True
                substantive += count_words(views.prose, m_pivot.end(), b)
            after_refusal = True
            refusal_seen = True
            continue
        words = count_words(views.prose, a, b)
        # "I can't pick for you. That said, here is how they compare: ..." (counted below, once the sentence is
        # known not to be an offer or support)
        turns = substantive == 0 and refusal_seen and _PIVOT_START.match(sentence) is not None
        # Offers, apologies and hotline pointers are not an answer; a long sentence that starts
        # with "I can tell you..." usually is.
        if words <= 25 and filler_rx is not None and filler_rx.match(sentence[:80]):
            continue
        if support_rx is not None and support_rx.match(sentence):
            continue  # crisis pointers and moralising after a refusal, at any length
        # The reasons given after a refusal ("X is illegal and dangerous", "it would violate their
        # privacy") are not an answer, until the answer turns to content ("but", "that said, here is").
        if not turns and (after_refusal or (refusal_seen and not pivot)) and words <= REASON_MAX_WORDS and any(
            rx.search(sentence) for rx in reasons
        ):
            after_refusal = False
            continue
        after_refusal = False
        pivot = pivot or turns
        substantive += words
    code_words = count_words(views.text) - count_words(views.prose) if views.has_code else 0
    substantive += code_words
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
    cats = [_category(h, views, cues, prompt) for h in lead_hits]
    out.refusal_category = cats[0]
    out.refusal_categories = sorted(set(cats))
    out.refusal_score = 0.9 if out.refusal_level == "full" else 0.6


def _leads(views: Views, hit: Hit) -> bool:
    if hit.start <= 0.35 * len(views.prose.rstrip()):
        return True
    before = views.prose[: views.sentence_bounds(hit.start)[0]]
    return len([m for m in _SENTENCE.finditer(before) if m.group().strip()]) < 3


def _category(hit: Hit, views: Views, cues: CueSet, prompt: str) -> str:
    if hit.kind in FIXED_CATEGORY:
        return FIXED_CATEGORY[hit.kind]
    if hit.kind == "deflection_weak":
        return "deflection"
    a, b = views.sentence_bounds(hit.start)
    _, b2 = views.sentence_bounds(min(b + 1, len(views.prose)))
    for scope in (views.prose[a:b2], views.prose, prompt):
        best, best_n = None, 0
        for cat, rx in cues.categories.items():
            n = len(rx.findall(scope))
            if n > best_n:
                best, best_n = cat, n
        if best is not None:
            return best
    return "unspecified"
