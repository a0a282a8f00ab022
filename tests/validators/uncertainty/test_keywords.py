"""Where a prose may name a refusal category (keywords.py) must cover every match: a range where a category's
pattern, or the reasons pattern, finds one is never ruled out, on the corpora's prose (with non-ASCII
variants) and generated text; and the category most named around a refusal is the plain count's."""

from __future__ import annotations

import random
import re

import pytest

from llmvet.validators.uncertainty import refusals
from llmvet.validators.uncertainty.cues import load
from llmvet.validators.uncertainty.keywords import Keywords, _distributed, strings_of
from llmvet.validators.uncertainty.literals import available
from llmvet.validators.uncertainty.scanners import lean
from llmvet.validators.uncertainty.text import build_views
from tests.support.corpus import corpus_texts

WORDS = [
    "harm", "harmful", "hurt", "hacking", "danger", "unsafe", "isn't", "safe", "is", "not", "safe",
    "self-harm", "browse", "the", "web", "live", "data", "files", "call", "phone", "calls", "policy",
    "privacy", "doctor", "lawyer", "licence", "license", "rather", "not", "let's", "talk", "beyond", "my",
    "scope", "speculate", "pharmacy", "will", "calling", "alarm", "café", "naïve", "élection"
]  # fmt: skip


def proses() -> list[str]:
    texts = corpus_texts()
    texts += [t.replace("e", "\u00e9", 3) for t in texts[::9]]  # (characters beyond ASCII: "?" to Hyperscan)
    rng = random.Random(3)
    texts += [" ".join(rng.choice(WORDS) + rng.choice(["", ".", ",", "\n"]) for _ in range(30)) for _ in range(400)]
    return [build_views(t).prose for t in texts]


def test_the_shipped_categories_have_strings_with_their_first_characters():
    cues = load("en")
    strings = {cat: strings_of(rx) for cat, rx in cues.categories.items()}
    assert all(s for s in strings.values()), strings
    assert {"harm", "hurt", "weapon"} <= strings["safety"]  # (not "arm": by_first's first character put back)
    assert _distributed("h(?:(?:arm)|(?:urt))") == ["h(?:arm)", "h(?:urt)"]
    assert _distributed("a(?:x)(?:y)") == ["a(?:x)(?:y)"]  # (that ")" closes another group)
    assert strings_of(re.compile("harm")) is None  # (not a category list)


@pytest.mark.skipif(not available(), reason="no pyperscan")
def test_a_range_where_a_category_matches_is_never_ruled_out():
    cues = load("en")
    assert cues.keywords is not None and cues.keywords.scan is not None
    reasons = cues.reasons
    assert reasons is not None
    rng = random.Random(5)
    ruled_out = matched = 0
    for prose in proses():
        named = cues.keywords.in_view(prose, prose.encode("ascii", "replace") if rng.random() < 0.5 else None)
        for _ in range(12):
            a = rng.randrange(len(prose) + 1)
            b = rng.randrange(a, min(len(prose), a + 400) + 1)
            scope = prose[a:b]
            for cat, rx in cues.categories.items():
                if rx.search(scope):
                    matched += 1
                    assert named.may_name((cat,), a, b), (cat, scope)
                else:
                    ruled_out += not named.may_name((cat,), a, b)
            if reasons.search(scope.strip()):
                assert named.may_name(refusals.REASON_CATEGORIES, a, b), scope
            # (the starts refusals._Asides bisects tell the same)
            starts = named.starts(refusals.REASON_CATEGORIES)
            assert starts is not None and starts == sorted(starts)
            assert any(a <= s < b for s in starts) == named.may_name(refusals.REASON_CATEGORIES, a, b)
    assert matched > 1000 and ruled_out > 10000


def test_without_a_database_every_range_may_name_every_category():
    cues = load("en")
    keywords = Keywords(cues.categories)
    keywords.scan = None  # (as without the pyperscan package)
    named = keywords.in_view("nothing here")
    assert all(named.may_name((cat,), 0, 0) for cat in cues.categories)
    assert named.starts(refusals.REASON_CATEGORIES) is None


def test_the_most_named_category_with_the_keywords_is_the_plain_count():
    cues = load("en")
    assert cues.keywords is not None
    for prose in proses()[::3]:
        named = cues.keywords.in_view(prose)
        for a in range(0, len(prose), 300):
            scope = prose[a : a + 500]
            assert refusals._most_named(cues, scope, named, a) == refusals._most_named(cues, scope), scope
        assert refusals._most_named(cues, prose, named) == refusals._most_named(cues, prose)


@pytest.mark.skipif(not available(), reason="no pyperscan")
def test_an_aside_is_held_where_its_lean_list_may_scan():
    cues = load("en")
    assert cues.keywords is not None and set(cues.keywords.leans) == {"refusal_support"}
    split = lean(cues.get("refusal_support"))
    assert split is not None
    held = 0
    texts = [*proses(), "call the suicide hotline", "dial 988.", "the crisis team", "crisis\nline", "hotlin"]
    for prose in texts:
        got = cues.keywords.in_view(prose).holds("refusal_support")
        assert got == split.may_scan(prose), prose
        held += bool(got)
    assert held > 20
    assert cues.keywords.in_view("x").holds("refusal_filler") is None  # (no lean list: asked the usual way)
