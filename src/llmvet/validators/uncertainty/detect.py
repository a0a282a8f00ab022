"""The rule path: find explicit uncertainty statements, hedge cues and refusals in one answer.

Pure functions over `Views` (no I/O), so the validator can run them in the CPU pool and the
benchmarks can call them directly. `analyse` runs the passes in order; the statement rules live in
statements.py, the refusal rules in refusals.py, and the hedge count (small) here.
"""

from __future__ import annotations

import re

from llmvet.validators.uncertainty.cues import CueSet
from llmvet.validators.uncertainty.hits import (
    BACKSTOP,
    CAVEAT,
    FILLER,
    FRAME,
    SCORES,
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
from llmvet.validators.uncertainty.refusals import classify_refusal, find_refusals
from llmvet.validators.uncertainty.statements import find_statements, gate_sentences, statement_candidates
from llmvet.validators.uncertainty.text import Views, build_views

# The public names of the rule path, wherever they are defined.
__all__ = [
    "BACKSTOP",
    "CAVEAT",
    "FILLER",
    "FRAME",
    "SCORES",
    "STRONG",
    "Analysis",
    "Hit",
    "Options",
    "analyse",
    "gate_sentences",
]

HEDGE_WEIGHTS = (("hedge", 1.0), ("hedge_weak", 0.5))  # plus "hedge_frequency" at Options.hedge_frequency_weight


def analyse(text: str, cues: CueSet, options: Options | None = None, prompt: str = "") -> Analysis:
    opts = options or Options()
    views = build_views(text)
    out = Analysis(prose_words=views.prose_words, code_only=views.code_only)
    prose = cues.for_text(views.prose, views.prose_data)  # sections that cannot match in the prose are skipped below
    prose_candidates = statement_candidates(views.prose, prose)
    refusal_hits = find_refusals(views, prose)
    # "I can't tell you with any confidence whether..." is a statement, not a refusal: where a
    # statement cue overlaps a refusal cue, the statement wins.
    exclude = prose.get("statement_exclude")
    prose_candidates = [c for c in prose_candidates if not vetoed(exclude, views.prose, c[0], c[1])]
    strong = [(a, b) for a, b, _ in prose_candidates]
    refusal_hits = [h for h in refusal_hits if not overlaps(h.start, h.end, strong)]
    refusal_spans: list[Span] = [(h.start, h.end) for h in refusal_hits]
    asked = prompt.lower()
    persona = cues.get("persona_prompt")
    backstop = not (asked and persona is not None and persona.search(asked))
    roleplay = cues.get("roleplay_prompt")
    if not (asked and roleplay is not None and roleplay.search(asked)):
        find_statements(views, prose, opts, refusal_spans, prose_candidates, out, backstop)
    _find_hedges(views, prose, opts, out)
    classify_refusal(views, prose, opts, refusal_hits, prompt, out)
    # Detection ran on squeezed views; report spans as offsets into the answer text.
    maps = views.maps  # (Views.span, without its call: ~9,000 hits a benchmark pass)
    for h in (*out.statements, *out.hedges, *out.refusals, *out.candidates):
        h.start, h.end = maps[h.where].span(h.start, h.end)
    return out


# --- hedging ----------------------------------------------------------------------------------------


def _find_hedges(views: Views, cues: CueSet, opts: Options, out: Analysis) -> None:
    taken = Spans((h.start, h.end) for h in out.statements if h.where == "prose")
    for span in cue_spans(cues.get("hedge_exclude"), views.prose):
        taken.append(span)
    for section, weight in (*HEDGE_WEIGHTS, ("hedge_frequency", opts.hedge_frequency_weight)):
        rx = cues.get(section)
        if rx is None or weight <= 0:
            continue
        for a, b in cue_matches(rx, views.prose):
            if overlaps(a, b, taken):
                continue
            said = views.original("prose", a, b)  # (mapped back once: the month test and the hit share it)
            if section == "hedge" and said == "May" and _month(views.text, views.span("prose", a, b)[1]):
                continue
            taken.append((a, b))
            out.hedges.append(Hit(section, a, b, clean(said), weight))
    if not out.hedges:  # (most answers: level "none", no weight (the int 0 `sum` gave) and density 0.0)
        out.hedge_weight, out.hedge_density, out.hedge_level = 0, 0.0, "none"
        return
    out.hedges.sort(key=lambda h: h.start)
    out.hedge_weight = sum(h.score for h in out.hedges)
    out.hedge_density = 100.0 * out.hedge_weight / max(views.prose_words, 1)
    if out.hedge_weight < opts.hedge_light_min:
        out.hedge_level = "none"
    elif out.hedge_density >= opts.hedge_threshold and out.hedge_weight >= opts.hedge_min_count:
        out.hedge_level = "heavy"
    else:
        out.hedge_level = "light"


def _month(text: str, end: int) -> bool:
    """'May' followed by a day or year is the month."""
    return bool(re.match(r"\s*(?:\d|of\b|and\b|to\b)", text[end : end + 8]))
