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
_CAPITALISED = re.compile(r"\b[A-Z][\w’'-]*")
# Capitalised words that open sentences or answers without naming anything.
_NOT_NAMES = _words(
    "yes no yeah nope sure well ok okay actually answer correct true false certainly indeed absolutely "
    "however therefore thus hence note"
)
# How many leading sentences of a text hold its key claim (answers often start "Yes." then explain).
HEAD_SENTENCES = 2
# Two first claims are "the same claim" when they share at least this share of content words.
SAME_CLAIM_OVERLAP = 0.5


@dataclass(frozen=True, slots=True)
class KeyFacts:
    polarity: bool | None  # True: yes, False: no, None: not a yes/no answer
    negated: bool  # the first claim carries an odd number of negations
    numbers: frozenset[str]
    names: frozenset[str]
    claim_terms: frozenset[str]  # content words of the first claim, negations included


def is_yes_no_question(question: str) -> bool:
    words = tokens(question)
    return bool(words) and words[0] in _YES_NO_START


def _negations(words: Sequence[str]) -> int:
    return sum(w in _NEGATIONS or w.endswith(("n't", "n’t")) for w in words)


def _numbers(text: str) -> set[str]:
    return {m.group().replace(",", "").replace("−", "-").rstrip(".") for m in _NUMBER.finditer(text)}


def _names(text: str) -> set[str]:
    return {w.lower() for w in _CAPITALISED.findall(text) if w.lower() not in STOP_WORDS | _NOT_NAMES}


def key_facts(text: str, question: str = "") -> KeyFacts:
    """The key facts of `text` as an answer to `question` (facts the question already names dropped)."""
    sentences = [s.text for s in split_sentences(text)] or [text]
    head = " ".join(sentences[:HEAD_SENTENCES])
    words = tokens(head)
    first = tokens(sentences[0])
    q_words = set(tokens(question))
    polarity: bool | None = None
    if words and words[0] in _YES:
        polarity = True
    elif words and words[0] in _NO:
        polarity = False
    negated = _negations(first[1:] if polarity is not None else first) % 2 == 1
    if polarity is None and is_yes_no_question(question) and first:
        polarity = not negated  # "It is not prime." answers "Is 91 prime?" with no
    return KeyFacts(
        polarity=polarity,
        negated=negated,
        numbers=frozenset(_numbers(head) - _numbers(question)),
        names=frozenset(_names(head) - q_words),
        claim_terms=frozenset(w for w in first if w not in STOP_WORDS or w in _NEGATIONS) - _YES - _NO,
    )


def contradiction(answer: KeyFacts, sample: KeyFacts) -> str | None:
    """Why `sample` contradicts `answer`'s key fact, or None when it does not (or says nothing comparable)."""
    if answer.polarity is not None and sample.polarity is not None:
        return "yes/no" if answer.polarity != sample.polarity else None  # the key fact of a yes/no answer
    if answer.numbers and sample.numbers and not answer.numbers & sample.numbers:
        return "number"
    if answer.names and sample.names and not answer.names & sample.names:
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
    return Contradictions(sum(r is not None for r in reasons) / len(samples), reasons)


_WH_START = _words("what which who whom whose when where why how name list")
# Requests for made-up text: other answers are supposed to differ, so comparing them says nothing.
_CREATIVE = _words(
    "write draft compose create generate translate summarize summarise rewrite rephrase paraphrase edit fix "
    "refactor implement imagine pretend brainstorm continue design poem story joke essay haiku song lyrics "
    "slogan"
)


def is_factual_question(question: str) -> bool:
    """A question asking for a fact (a name, date, number, yes or no), not for made-up or transformed text."""
    words = tokens(question)
    if not words or _CREATIVE & set(words[:12]):
        return False
    return question.rstrip().endswith("?") or words[0] in _WH_START | _YES_NO_START
