"""Key facts of a short answer (yes/no, negation, numbers, names) and whether another answer contradicts them.

Word overlap cannot see "No, 91 is not prime." against "Yes, 91 is prime.": both share every
content word. A short factual answer stands or falls by one key fact, so a sample that states a
different one (the other polarity, another number, another name) contradicts it however long
either text is. Facts the question itself mentions ("Is 91 prime?" -> 91) are not key facts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from llmvet.validators.consistency.scoring import STOP_WORDS, split_sentences, tokens


def _words(text: str) -> frozenset[str]:
    """A word list written as text (reads best that way)."""
    return frozenset(text.split())


_YES = frozenset({"yes", "yeah", "yep", "correct", "true", "indeed", "certainly", "absolutely"})
_NO = frozenset({"no", "nope", "false", "incorrect", "wrong"})
_NEGATIONS = frozenset({"not", "no", "never", "nor", "neither", "none", "nobody", "nothing", "cannot", "without"})
# Questions answered by yes or no start with an auxiliary verb.
_YES_NO_START = _words(
    "is are was were am do does did can could will would shall should has have had may might must isn't aren't "
    "wasn't weren't doesn't don't didn't"
)
_NUMBER = re.compile(r"(?<![\w.])[-−]?\d[\d,]*(?:\.\d+)?")
# A run of capitalised words, connectors allowed inside ("Miguel de Cervantes", "Bosnia and Herzegovina").
_NAME = r"[A-Z][\w’'.-]*(?:\s+(?:(?:de|da|del|von|van|of|and|the|la|le)\s+)?[A-Z][\w’'.-]*)*"
_NAME_RUN = re.compile(rf"\b{_NAME}")
# "not Sydney", "rather than Sydney": a name the text rejects.
_REJECTED_NAME = re.compile(rf"\b(?:[Nn]ot|[Rr]ather than|[Ii]nstead of|[Uu]nlike)\s+{_NAME}")
_LEADING_WORD = re.compile(r"^\W*\w+")
# "…, so yes, …", "the answer is no".
_CONCLUSION = re.compile(r"\b(?:so|thus|therefore|hence|answer is|answer:)\s*,?\s*(yes|no)\b")
# Capitalised words that open sentences or answers without naming anything.
_NOT_NAMES = _words(
    "yes no yeah nope sure well ok okay actually answer correct true false certainly indeed absolutely "
    "however therefore thus hence note let many trying quick check hmm great good first also after before "
    "because since although maybe perhaps probably here"
)
# How many leading sentences of a text hold its key claim (answers often start "Yes." then explain).
HEAD_SENTENCES = 2
# Two first claims are "the same claim" when they share at least this share of content words.
SAME_CLAIM_OVERLAP = 0.5


@dataclass(frozen=True, slots=True)
class KeyFacts:
    polarity: bool | None  # True: yes, False: no, None: not a yes/no answer
    negated: bool  # the first claim carries an odd number of negations
    numbers: tuple[str, ...]  # in order of appearance; the last is usually the result ("= 2116")
    names: frozenset[frozenset[str]]  # each name as its words ("emily", "brontë")
    claim_terms: frozenset[str]  # content words of the first claim, negations included


def is_yes_no_question(question: str) -> bool:
    words = tokens(question)
    return bool(words) and words[0] in _YES_NO_START


def _negations(text: str) -> int:
    """Negations of the claim; "not Sydney" rejects a name, it does not negate the claim."""
    words = tokens(_REJECTED_NAME.sub(" ", text))
    return sum(w in _NEGATIONS or w.endswith(("n't", "n’t")) for w in words)


def _numbers(text: str) -> list[str]:
    return [m.group().replace(",", "").replace("−", "-").rstrip(".") for m in _NUMBER.finditer(text)]


def _names(text: str, drop: set[str]) -> set[frozenset[str]]:
    """Runs of capitalised words ("Emily Brontë"), without names the text rejects ("not Sydney") or the
    question's words. A one-to-three-word answer in lower case ("canberra") is a name as it stands."""
    text = _REJECTED_NAME.sub(" ", text)
    words = tokens(text)
    if 0 < len(words) <= 3 and not any(ch.isupper() for ch in text):
        return {frozenset(w for w in words if w not in STOP_WORDS | drop)} - {frozenset()}
    out = set()
    for run in _NAME_RUN.findall(text):
        name = frozenset(
            w for w in tokens(run) if w not in STOP_WORDS | _NOT_NAMES | drop and _base(w) not in STOP_WORDS
        )
        if name:
            out.add(name)
    return out


def _base(word: str) -> str:
    return re.split(r"['’]", word, maxsplit=1)[0]


def _polarity(sentences: list[str], question: str) -> bool | None:
    """Yes or no: a leading yes/no word, else a concluding one ("…, so yes, it is prime."), else for a
    yes/no question the negation of the conclusion (the last sentence on the question's subject)."""
    words = tokens(sentences[0])
    if words and words[0] in _YES | _NO:
        return words[0] in _YES
    said = _CONCLUSION.findall(" ".join(sentences).lower())
    if said:
        return said[-1] in _YES
    if not is_yes_no_question(question):
        return None
    topic = set(tokens(question)) - STOP_WORDS
    on_topic = [s for s in sentences if topic & set(tokens(s))] or sentences
    return _negations(on_topic[-1]) % 2 == 0  # "It is not prime." answers "Is 91 prime?" with no


def key_facts(text: str, question: str = "") -> KeyFacts:
    """The key facts of `text` as an answer to `question` (facts the question already names dropped)."""
    sentences = [s.text for s in split_sentences(text)] or [text]
    head = " ".join(sentences[:HEAD_SENTENCES])
    claim = sentences[0]
    if tokens(claim)[:1] and tokens(claim)[0] in _YES | _NO:
        claim = _LEADING_WORD.sub("", claim)  # "No, it is not prime": the claim is "it is not prime"
    first = tokens(claim)
    q_numbers = set(_numbers(question))
    polarity = _polarity(sentences, question)
    return KeyFacts(
        polarity=polarity,
        negated=_negations(claim) % 2 == 1,
        numbers=tuple(n for n in _numbers(head) if n not in q_numbers),
        names=frozenset(_names(head, set(tokens(question)))),
        claim_terms=frozenset(w for w in first if w not in STOP_WORDS or w in _NEGATIONS) - _YES - _NO,
    )


def _same_name(a: frozenset[str], b: frozenset[str]) -> bool:
    return a <= b or b <= a  # "Curie" is "Marie Curie"; "Emily Brontë" is not "Charlotte Brontë"


def contradiction(answer: KeyFacts, sample: KeyFacts) -> str | None:
    """Why `sample` contradicts `answer`'s key fact, or None when it does not (or says nothing comparable)."""
    if answer.polarity is not None and sample.polarity is not None:
        return "yes/no" if answer.polarity != sample.polarity else None  # the key fact of a yes/no answer
    a, s = answer.numbers, sample.numbers
    if a and s and (not set(a) & set(s) or (a[-1] not in s and s[-1] not in a)):
        return "number"  # no number in common, or each ends on a result the other lacks
    if answer.names and sample.names and not any(_same_name(x, y) for x in answer.names for y in sample.names):
        return "name"
    if answer.negated != sample.negated and answer.polarity is None:
        shared = answer.claim_terms & sample.claim_terms
        union = (answer.claim_terms | sample.claim_terms) - _NEGATIONS
        if union and len(shared - _NEGATIONS) / len(union) >= SAME_CLAIM_OVERLAP:
            return "negation"
    return None


@dataclass(slots=True)
class Contradictions:
    share: float  # contradicting samples / all samples
    reasons: list[str | None]  # per sample
    comparable: bool = True  # the answer has a key fact (yes/no, a number, a name) to compare


def contradiction_share(answer: str, samples: Sequence[str], question: str = "") -> Contradictions:
    """The share of `samples` that contradict the answer's key fact.

    The denominator is every sample, so a sample that says nothing comparable counts as not
    contradicting; the share of a fixed kind of model tends to a fixed value as N grows instead of
    being averaged away.
    """
    if not samples:
        return Contradictions(0.0, [])
    facts = key_facts(answer, question)
    reasons = [contradiction(facts, key_facts(s, question)) for s in samples]
    comparable = facts.polarity is not None or bool(facts.numbers) or bool(facts.names)
    return Contradictions(sum(r is not None for r in reasons) / len(samples), reasons, comparable)


_WH_START = _words("what which who whom whose when where why how name list")
# Requests for made-up text: other answers are supposed to differ, so comparing them says nothing.
_CREATIVE = _words(
    "write draft compose create generate translate summarize summarise rewrite rephrase paraphrase edit fix "
    "refactor implement imagine pretend brainstorm continue design poem story joke essay haiku song lyrics "
    "slogan"
)


def is_creative_request(question: str) -> bool:
    """A request for made-up or transformed text (a poem, a rewrite), where answers should differ."""
    return bool(_CREATIVE & set(tokens(question)[:12]))


def is_factual_question(question: str) -> bool:
    """A question asking for a fact (a name, date, number, yes or no), not for made-up or transformed text."""
    words = tokens(question)
    if not words or _CREATIVE & set(words[:12]):
        return False
    return question.rstrip().endswith("?") or words[0] in _WH_START | _YES_NO_START
