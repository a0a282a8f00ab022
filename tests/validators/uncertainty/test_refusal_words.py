"""The words of a refused answer that are content (refusals._answer_words) against the plain count: every
sentence's words counted one by one, as the definition reads, on real answers and generated refusals."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from llmvet.validators.uncertainty import refusals
from llmvet.validators.uncertainty.alternatives import WRAP, any_of
from llmvet.validators.uncertainty.cues import load
from llmvet.validators.uncertainty.hits import SENTENCE
from llmvet.validators.uncertainty.text import build_views, count_words

DATA = Path(__file__).resolve().parents[2] / "data"
REFUSALS = [
    "I can't help with that.", "I won't write that, but here is how locks work in general.",
    "I'm not able to provide medical advice.", "I can't diagnose this, but while you wait: drink water.",
    "I don't have access to live prices.", "I'm not the right one to judge that.",
]  # fmt: skip
OTHERS = [
    "That said, here is how they compare: the first is faster.", "However, the second one is cheaper.",
    "I'd be happy to help with something else.", "Sorry about that.", "Please reach out to a crisis hotline.",
    "Making explosives is illegal and dangerous.", "It would violate their privacy.",
    "If you're trying to save money, use a budget app.", "Alternatives that work:", "- Ask a friend.",
    "The recipe needs 3.5 cups of flour and two eggs.", "e.g. this one", "...", "!!", "42.", "   ",
    "Let me know if you have questions.", "Here's what the docs say about it.", "```\ncode here\n```",
    "It's self-harm—don't.", "The drug's name is x-ray.", "Thanks!", "\u00e9t\u00e9 d\u00e9j\u00e0 vu.",
]  # fmt: skip


def plain_answer_words(views, cues, hits) -> tuple[int, bool]:
    """The definition: each sentence's words counted, added unless it is an aside."""
    cue_end: dict[tuple[int, int], int] = {}
    for h in hits:
        bounds = views.sentence_bounds(h.start)
        cue_end[bounds] = max(cue_end.get(bounds, 0), h.end)
    asides = refusals._Asides.of(cues)
    substantive = 0
    pivot = after_refusal = refusal_seen = alternatives = False
    for m in SENTENCE.finditer(views.prose):
        a, b = m.span()
        sentence = views.prose[a:b].strip()
        if not sentence:
            continue
        inside = [(s, e) for (s, e) in cue_end if s < b and a < e]
        if inside:
            m_pivot = refusals._PIVOT.search(views.prose, max(a, max(cue_end[s] for s in inside)), b)
            if m_pivot:
                pivot = True
                substantive += count_words(views.prose, m_pivot.end(), b)
            after_refusal = refusal_seen = True
            continue
        words = count_words(views.prose, a, b)
        turns = substantive == 0 and refusal_seen and refusals._PIVOT_START.match(sentence) is not None
        if words <= 25 and asides.filler is not None and asides.filler.match(sentence[:80]):
            continue
        if asides.support is not None and asides.support.match(sentence):
            continue
        alternatives = alternatives or (
            refusal_seen and not pivot and not turns and asides.offers_alternative(sentence)
        )
        if alternatives and not turns:
            continue
        reason = words <= refusals.REASON_MAX_WORDS and any(rx.search(sentence) for rx in asides.reasons)
        if not turns and (after_refusal or (refusal_seen and not pivot)) and reason:
            after_refusal = False
            continue
        after_refusal = False
        pivot = pivot or turns
        substantive += words
    code_words = count_words(views.text) - count_words(views.prose) if views.has_code else 0
    return substantive + code_words, pivot


def refused(texts: list[str]) -> list[tuple]:
    cues = load("en")
    out = []
    for text in texts:
        views = build_views(text)
        prose = cues.for_text(views.prose)
        hits = refusals.find_refusals(views, prose)
        if hits:
            out.append((text, views, prose, hits))
    return out


def keywords_of(views, cues):
    """Where the prose may name each category (keywords.py), as classify_refusal passes it (None: no database)."""
    whole = cues.full or cues
    return None if whole.keywords is None else whole.keywords.in_view(views.prose, views.prose_data)


def test_content_words_match_the_plain_count_on_real_answers():
    texts = []
    for path in sorted(DATA.glob("*/*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and isinstance(text := json.loads(line).get("text"), str):
                texts.append(text)
    cases = refused(texts)
    assert len(cases) > 100
    for text, views, cues, hits in cases:
        expected = plain_answer_words(views, cues, hits)
        assert refusals._answer_words(views, cues, hits) == expected, text[:200]
        assert refusals._answer_words(views, cues, hits, keywords_of(views, cues)) == expected, text[:200]


@pytest.mark.parametrize("seed", range(4))
def test_content_words_match_the_plain_count_on_generated_refusals(seed):
    rng = random.Random(seed)
    texts = []
    for _ in range(300):
        parts = [rng.choice(REFUSALS if rng.random() < 0.3 else OTHERS) for _ in range(rng.randint(1, 9))]
        texts.append("".join(p + rng.choice([" ", "\n", "\n\n", "", "  "]) for p in parts))
    cases = refused(texts)
    assert len(cases) > 150
    outcomes = set()
    for text, views, cues, hits in cases:
        got = refusals._answer_words(views, cues, hits)
        assert got == plain_answer_words(views, cues, hits), text
        assert refusals._answer_words(views, cues, hits, keywords_of(views, cues)) == got, text
        outcomes.add((got[0] > 0, got[1]))
    assert len(outcomes) >= 3  # content and none, with and without a pivot


def test_every_word_is_in_one_sentence():
    """What the fast count relies on: the prose's words are the sum of its sentences' words."""
    for text in [*REFUSALS, *OTHERS, "a.-b c'd e-.f", "x!?y\n\n-z", "don't.stop", "ab\u00e9cd.ef"]:
        prose = build_views(text).prose
        per_sentence = sum(count_words(prose, *m.span()) for m in SENTENCE.finditer(prose))
        ascii_prose = "".join(ch if ch.isascii() else "?" for ch in prose).replace("'", "").replace("-", "")
        assert per_sentence == count_words(prose) == len(re.findall("[a-z]+", ascii_prose)), text


REASON_WORDS = [
    "harm", "harmless", "unharmed", "self-harm", "harm's", "dangerous", "danger", "weapon", "weapons", "drug", "drugs",
    "diagnosis", "pre-diagnosis", "doctor", "lawyer", "licensed", "not safe", "isn't safe", "is not safe", "evade",
    "evasion", "home address", "phone number", "system prompt", "take sides", "minor", "minors", "minority", "role-play",
    "roleplaying", "policy", "policies", "guideline", "x", "the", "a", ",", "_harm", "harm_", "9harm", "(harm)",
]  # fmt: skip


def test_one_pattern_for_the_reasons_finds_what_the_lists_find():
    cues = load("en")
    asides = refusals._Asides.of(cues)
    assert asides.any_reason is not None and len(asides.reasons) == 2
    rng = random.Random(5)
    sentences = [" ".join(rng.choice(REASON_WORDS) for _ in range(rng.randint(1, 6))) for _ in range(3000)]
    for path in sorted(DATA.glob("*/*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines()[::4]:
            if line.strip() and isinstance(text := json.loads(line).get("text"), str):
                prose = build_views(text).prose
                sentences += [m.group().strip() for m in SENTENCE.finditer(prose)]
    found = 0
    for sentence in sentences:
        expected = any(rx.search(sentence) for rx in asides.reasons)
        assert (asides.any_reason.search(sentence) is not None) == expected, sentence
        found += expected
    assert 1000 < found < len(sentences) - 1000


def test_entries_are_grouped_only_where_a_letter_begins_each_match():
    parts = ["ab?", "a|b", "x*y", "c", "cd", "c{2}", "(?:q)r", "é", "[kl]m"]
    joined = any_of(parts, re.M)
    assert joined is not None
    each = [re.compile(WRAP.format(f"(?:{p})"), re.M) for p in parts]
    for s in ["a", "b", "y", "xxy", "c", "cc", "cd", "qr", "é", "km", "lm", "z", "ab", "xa", "ca", "d"]:
        assert (joined.search(s) is not None) == any(rx.search(s) for rx in each), s
    assert any_of([], re.M) is None  # (an empty alternation would match everywhere)
    assert any_of(["(a)\\1"], re.M) is None and any_of(["(?P<n>a)(?P=n)"], re.M) is None


def test_entries_split_into_their_alternatives_find_what_the_entries_find():
    """`any_of` groups the alternatives of each entry under their first letters (a leading group distributed,
    a top-level "|" split): the joined pattern finds a match where one of the entries does."""
    parts = ["(?:dis|mis)information", "(?:isn't|is not|not) safe", "x(?:y|z)w", "ab|(?:x)*y", "(?:p|q)+r",
             "\u00e9(?:a|b)", "(?:a|)c", "(?:k|l)m|n", "polic(?:y|ies)", "(?:s|t)(?:u|v)w", "h\\w*"]  # fmt: skip
    joined = any_of(parts, re.M)
    assert joined is not None
    each = [re.compile(WRAP.format(f"(?:{p})"), re.M) for p in parts]
    words = ["disinformation", "misinformation", "information", "isn't safe", "is not safe", "not safe", "safe",
             "xyw", "xzw", "xw", "ab", "y", "xxy", "pr", "qqpr", "r", "\u00e9a", "\u00e9b", "\u00e9", "c", "ac", "km",
             "lm", "n", "policy", "policies", "polic", "suw", "tvw", "sw", "harm", "h\u00e9"]  # fmt: skip
    rng = random.Random(9)
    found = 0
    for _ in range(6000):
        s = "".join(rng.choice(words) + rng.choice([" ", "", "-", "\u00e9", ". "]) for _ in range(rng.randint(1, 4)))
        expected = any(rx.search(s) for rx in each)
        assert (joined.search(s) is not None) == expected, s
        found += expected
    assert 1000 < found < 5000
