"""Structural matcher for explicit statements the phrase lists don't spell out.

The phrase lists in `data/uncertainty/<lang>.yaml` know many exact wordings; real answers vary them
("I couldn't independently confirm", "I wouldn't lean on it", "I believe so, but double-check that
date"). Instead of adding each wording, these frames match the *shape* of a statement:

1. self-epistemic: the author as subject ("I", "I'm", "I've", ...), only adverbs/auxiliaries in
   between, a negation or limitation ("not", "never", "can't", "couldn't", "only"), and an epistemic
   predicate (sure/certain/confident/know/recall/remember/verify/confirm/guarantee/vouch/rely on...).
   The object must not be the reader ("I'm not sure what you mean", "I don't know your history").
2. reader verification of the answer's own content: "double-check that date", "verify these
   figures", "confirm the version before relying on it" - a verification verb whose object points
   back at something the answer said (a demonstrative + content noun, or "before relying on it").
3. staleness of the answer's own information: "rates have likely changed since then", "the last
   figure I know of", "as of the last time I checked".
4. confidence / uncertainty labels and levels: "My own uncertainty: ...", "Confidence - high".

The text handed in is a lower-cased view with quotes, code and drafted letters blanked
(`text.build_views`), so third-party and quoted uncertainty never reaches these patterns. Callers
skip matches that overlap refusals, filler or the exclusion lists. English only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Protocol

from llmvet.validators.uncertainty.patterns import Pattern

# --- 1. self-epistemic ----------------------------------------------------------------------------
_SUBJECT = r"(?<![\w'])i(?:'m|'ve|'d|'ll)?"
# Only auxiliaries and adverbs may stand between the subject and the negation, so "I think he was not
# sure" (someone else's doubt) does not match.
_GAP_WORD = (
    r"(?:am|was|have|had|would|will|do|did|can|could|should|may|might|must|just|really|honestly|still|simply|"
    r"genuinely|frankly|actually|personally|also|even|yet|truly|unfortunately|admittedly|be|been|feel|felt|"
    r"remain|so|too|myself|here|now)"
)
_NEG = (
    r"(?:not|never|no longer|hardly|barely|only|can't|cannot|couldn't|wouldn't|don't|didn't|haven't|hadn't|"
    r"won't|shouldn't|wasn't|can not|could not|would not|do not|did not|have not|was not|am not)"
)
_MOD_WORD = (
    r"(?:entirely|completely|totally|fully|quite|absolutely|100%|a hundred percent|one hundred percent|that|too|"
    r"very|super|all that|really|actually|yet|independently|personally|exactly|precisely|be|been|able to|"
    r"properly|remotely|at all|fully|one|so|as|100 percent|particularly|terribly|overly|going to|able|to|have|"
    r"find a way to|manage to|managed to|get to|vividly|clearly|reliably|firmly)"
)
_PRED = (
    r"(?:sure|certain|confident|positive|convinced|verify|verified|confirm|confirmed|know|knew|recall|recalled|"
    r"remember|remembered|guarantee|guaranteed|vouch|vouched|lean on|leaned on|rely on|relied on|trust|"
    r"stand behind|stand by|bet on|bet|swear|swear to|double-check|double-checked|check|checked|tested|test|"
    r"looked (?:it |this |that )?up|look (?:it |this |that )?up|cross-check|cross-checked|pin (?:it |this |that )?down|"
    r"pinned (?:it |this |that )?down|corroborate|corroborated|source|sourced|track down|find (?:a|an|any|the) (?:[\w-]+ )?(?:source|record|reference|study|paper|report|data|evidence|citation)|"
    r"cite(?: you)?|point (?:you )?to (?:a|any) (?:primary |reliable |original |solid |single )?source)"
)
SELF_EPISTEMIC = re.compile(rf"{_SUBJECT}(?: {_GAP_WORD}){{0,3}} {_NEG}(?: {_MOD_WORD}){{0,3}} {_PRED}(?![\w'-])", re.M)
# Pro-drop and perfective forms, common in terse answers: "Pretty confident on 1.24; less so on the month",
# "Not 100% on whether...", "Haven't compiled this", "a ballpark I haven't recomputed".
_CLAUSE_START = (
    r"(?:^[ \t>#•*_-]*(?:\d+[.)][ \t]*)?|(?<=[.!?;:(—–] )|(?<=[(—–])|(?<=, but )|(?<= but )|(?<=, and )|(?<=, so ))"
)
PRO_DROP_DEGREE = re.compile(
    rf"{_CLAUSE_START}(?:"
    r"(?:pretty|fairly|reasonably|quite|moderately|very|highly|less|least|only somewhat|somewhat|"
    r"not(?: entirely| fully| totally| completely| quite| 100%| a hundred percent)?) "
    r"(?:sure|certain|confident|positive)(?: (?:on|about|of|that|whether|if|regarding|in|here|this|the)(?![\w-]))"
    r"|not (?:100%|a hundred percent|one hundred percent|entirely|fully|totally|completely) (?:on|about|whether|if|that)(?![\w-])"
    r")",
    re.M,
)
# "Less certain about the economy, investors sold": a fronted phrase whose clause has its own subject after
# the comma describes someone else. Allowed after a comma: connectors and a second "less so"-type clause.
_COMMA_SUBJECT = re.compile(
    r", (?!(?:but|and|so|though|although|especially|particularly|since|because|as|which|given|if|whether|at|on|in|"
    r"about|for|less|more|not|than|or|nor|let alone|not least|e\.g|i\.e|say|probably|likely|maybe)\b)[a-z]"
)
PRO_DROP = re.compile(
    rf"{_CLAUSE_START}(?:"
    r"(?:haven't|have not|didn't|did not|never) (?:yet |actually |personally |properly )?"
    r"(?:tested|compiled|run|ran|tried|executed|benchmarked|measured|verified|checked|confirmed|double-checked|proofread|validated|recomputed|recalculated|re-derived|rerun|re-run)"
    r"(?: (?:it|this|that|these|them|the (?:code|snippet|script|query|numbers|figures|math|maths|arithmetic)|on|with|against|in|myself)(?![\w-]))"
    r")",
    re.M,
)
UNTESTED = re.compile(
    r"(?<![\w'])i (?:haven't|have not|didn't|did not|never) (?:yet |actually |personally |properly |independently )?"
    r"(?:compiled|run|ran|executed|benchmarked|measured|recomputed|recalculated|re-derived|rerun|re-run|proofread|cross-checked|cross-referenced|re-verified|rechecked|re-checked)(?![\w-])"
    r"|(?<![\w'])i(?:'m| am) on (?:shaky|shakier|shakiest|thin|thinner|thinnest|less (?:solid|firm|certain)|weaker|weakest) (?:ground|footing|ice)"
    r"|(?<![\w'])i(?:'m| am) (?:recalling|quoting|reciting|remembering) (?:it|this|that|these|them|the \w+)?,? (?:not|rather than|instead of) (?:reading|looking|checking|citing|quoting)"
    r"|(?:part|bit|number|figure|one|detail|date|claim|thing)s? (?:i(?:'d| would)|i(?:'d| would) (?:want|like) to) (?:fact-check|double-check|verify|re-check|recheck|cross-check|check first|confirm)"
    r"|(?:part|bit|number|figure|one|detail|date|claim)s? to (?:fact-check|double-check|re-check|cross-check)"
    r"|(?:going|working|relying|answering) (?:off|from|on) what i (?:last |once |vaguely |previously |originally )?(?:saw|read|heard|remember|recall|knew|learned|learnt)",
    re.M,
)
# What follows the predicate when the doubt is about the reader, a task, or not about knowledge at all.
_SELF_AFTER_VETO = re.compile(
    r" (?:you(?!r (?:version|setup))|your (?:\w+ )?(?:history|situation|circumstances|needs|name|identity|age|"
    r"account|password|intentions?|goals?|context|question|request)|how to (?:help|answer|respond)|if you|"
    r"whether you|what you|which you|who you|where you|when you|our |previous|past conversations|earlier conversations|"
    r"anything about you|what (?:kind|sort|type) of (?:help|answer|thing|info)|the answer to your|about you)"
)
# "if I'm not sure", "when I can't remember", "once I've confirmed": conditional, not a claim.
_CONDITIONAL_BEFORE = re.compile(r"(?:\bif|\bwhen|\bwhenever|\bunless|\buntil|\bonce|\bin case)[ ,]*$")

# --- 2. reader verification of the answer's own content ---------------------------------------------
_VERIFY = r"(?:double-check|double check|verify|confirm|re-check|recheck|cross-check|sanity-check|fact-check|check)"
_CONTENT_NOUN = (
    r"(?:date|dates|figure|figures|number|numbers|version|versions|version number|value|values|detail|details|"
    r"year|years|claim|claims|statistic|statistics|stats|estimate|estimates|fact|facts|name|names|price|prices|"
    r"fee|fees|amount|amounts|dose|doses|dosage|timing|timings|count|counts|percentage|percentages|rate|rates|"
    r"spec|specs|limit|limits|default|defaults|flag|flags|citation|citations|reference|references|quote|"
    r"attribution|spelling|figure|detail|point|points|one|ones|part|bit|list|total|totals|range|ranges|"
    r"deadline|deadlines|threshold|thresholds|requirement|requirements|syntax|behaviou?r|minor version|"
    r"release|releases|cutoff|cut-off|measurement|measurements|conversion|conversions|formula|result|results)"
)
READER_VERIFY = re.compile(
    rf"(?<![\w-]){_VERIFY}(?: (?:it|this|that|these|those|them))?"
    rf"(?:"
    # "double-check that date", "verify these figures", "confirm those two numbers"
    rf" (?:that|this|these|those|my)(?: [\w'-]+){{0,2}} {_CONTENT_NOUN}(?![\w-])(?! (?:is|are) (?:correct|right|set|enabled)| (?:in|on|under|from|of|for) your)"
    # "verify the backport version before relying on it", "check it before you quote it"
    rf"|(?: [\w'./-]+){{0,6}} before (?:relying|depending|quoting|citing|trusting|budgeting|"
    rf"you rely|you quote|you cite|you depend|you act|you build|you budget|you trust|using (?:it|them|this|that|these) (?:in|for))"
    # "double-check it if it matters", "verify that yourself"
    rf"|(?:(?<= it)|(?<= this)|(?<= that)|(?<= them))(?: (?:yourself|independently|if (?:it|this|that|they|precision|accuracy|the exact)|"
    rf"against (?:the |an? )?(?:official|primary|original|current|latest|authoritative)))"
    rf")",
    re.M,
)

# --- 3. staleness of the answer's own information ---------------------------------------------------
STALE = re.compile(
    r"(?<![\w-])(?:"
    r"(?:may|might|could|will|would|probably|likely|possibly|very likely|almost certainly) (?:well |easily |likely |probably |have )*"
    r"(?:have )?(?:changed|moved|shifted|been updated|been revised|been superseded|gone up|gone down|risen|fallen|increased|dropped)"
    r" since(?:(?= ?[.,;:)—–-]|$)| then| my| i | that (?:time|update|date|release)| the last)"
    r"|(?:have|has)(?: very)? (?:likely|probably|possibly|almost certainly) (?:changed|moved|shifted|been updated|been revised|gone up|risen)"
    r" since"
    r"|(?:may|might|could) (?:already )?be (?:out of date|outdated|stale|superseded) (?:by now|already|now)"
    r"|my (?:information|knowledge|data|figures|numbers|list|picture|sources?) (?:may|might|could|probably|likely|will) (?:well )?(?:lag|trail|be behind|be a (?:year|few months|release|version) behind)"
    r"|there (?:have|has|may have|might have|could have|will have) (?:very |most |almost certainly |quite )?(?:likely |probably |possibly )?been"
    r" (?:newer |more |further |later |other |new |several |some )?(?:releases|versions|updates|changes|announcements|developments|revisions|amendments) since"
    r"|(?:the|this|that|these|those|my) [\w'-]+(?: [\w'-]+)? (?:might|may|could) (?:well |easily )?be (?:off|out|wrong) by"
    r"|(?:may|might|could|will|would|probably|likely) (?:well |already |easily )?(?:differ|be different|look different|have changed|have moved|have shifted|be out of date|be outdated)(?: slightly| a bit| somewhat| a little)? by now"
    r"|(?:is|are|would be|might be) worth (?:a |an )?(?:quick |second |independent |separate )?(?:sanity[- ]check|double-check|re-check|recheck|second check|independent check|cross-check)"
    r")",
    re.M,
)

# --- 4. labels and levels --------------------------------------------------------------------------
LABEL = re.compile(
    r"(?:^[ \t>#•*_-]*(?:\[!\w+\][ \t]*)?(?:\d+[.)][ \t]*)?|(?<=[(\[]))"
    r"(?:my (?:own )?)?(?:uncertainty|uncertainties|confidence|certainty|doubts?|confidence level|confidence note|"
    r"confidence check|certainty level|reliability note|accuracy note|what i'm (?:not )?(?:sure|certain) (?:of|about)|"
    r"where i'm (?:unsure|uncertain|less sure|not sure)|how sure i am|how confident i am|unverified|not verified|unconfirmed|from memory)"
    r"(?: (?:here|overall|on this|in this answer|level|rating))?[ \t*_]*(?:[:—–=\]]|-(?= ))",
    re.M,
)
LEVEL = re.compile(
    r"(?<![\w-])(?:"
    r"(?:confidence|certainty)(?: level)?[ \t*_]*(?:[:—–=(]|-(?= ))"
    r"|my (?:own )?(?:confidence|certainty)(?: level)?(?: (?:here|overall|on (?:this|that|the \w+)|in (?:this|that|the \w+)))? (?:is|would be|sits at|is at)"
    r")[ \t*_]*(?:only |about |around |roughly |maybe |moderately |fairly |quite |very |pretty |somewhere )?"
    r"(?:low|medium|moderate|high|limited|mixed|fair|modest|middling|decent|reasonable|\d{1,3}(?: ?%| percent)|\d{1,2} ?/ ?10)"
    r"(?![\w-])",
    re.M,
)

_SENTENCE_END = re.compile(r"[.!?\n]")


def _sentence_tail(view: str, end: int) -> str:
    m = _SENTENCE_END.search(view, end)
    return view[end : m.start() + 1 if m else len(view)]


FRAME_PATTERNS: dict[str, re.Pattern[str]] = {
    "self": SELF_EPISTEMIC,
    "pro_drop_degree": PRO_DROP_DEGREE,
    "pro_drop": PRO_DROP,
    "untested": UNTESTED,
    "reader_verify": READER_VERIFY,
    "stale": STALE,
    "label": LABEL,
    "level": LEVEL,
}
FRAME_PREFIX = "frame."  # a cue set (cues.load) holds the frames under these names, narrowed with its sections
# The frames under those names, for a view scanned without a cue set; and the names `find` reads, made once
# (a dict of the eight built a call, ~1 us, was a tenth of an answer's statement pass without cues).
_FRAMES: dict[str, Pattern | None] = {FRAME_PREFIX + k: rx for k, rx in FRAME_PATTERNS.items()}
_SELF, _DEGREE = FRAME_PREFIX + "self", FRAME_PREFIX + "pro_drop_degree"
_SPANNED = tuple(FRAME_PREFIX + k for k in ("pro_drop", "untested", "reader_verify", "stale", "label", "level"))


class _Cues(Protocol):
    @property
    def patterns(self) -> dict[str, Pattern | None]: ...


def find(view: str, cues: _Cues | None = None) -> list[tuple[int, int]]:
    """Spans of statement-shaped clauses in a lower-cased, blanked view. `cues`: the view's cue set
    (CueSet.for_text), whose frames are already narrowed to this view; else each frame scans it whole."""
    out: list[tuple[int, int]] = []
    # (through a cue set: frames that cannot start in this view are not scanned, the others only where they can)
    frames: Mapping[str, Pattern | None] = _FRAMES
    if cues is not None and _SELF in cues.patterns:
        frames = cues.patterns
    if (rx := frames[_SELF]) is not None:
        out += _self_epistemic(rx, view)
    if (rx := frames[_DEGREE]) is not None:
        out += [m.span() for m in rx.finditer(view) if not _COMMA_SUBJECT.search(_sentence_tail(view, m.end()))]
    for name in _SPANNED:
        if (rx := frames[name]) is not None:
            out += [m.span() for m in rx.finditer(view) if m.end() > m.start()]
    return out


def _self_epistemic(rx: Pattern, view: str) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for m in rx.finditer(view):
        a, b = m.span()
        if _SELF_AFTER_VETO.match(view, b) or _CONDITIONAL_BEFORE.search(view, max(0, a - 12), a):
            continue
        if _sentence_tail(view, b).rstrip().endswith("?"):
            continue  # a question ("Do I remember that right?") asks, it doesn't state
        out.append((a, b))
    return out
