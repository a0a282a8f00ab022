"""A keyword list under its entries' first characters (firsts.py) must find what the plain join finds, match
for match: the shipped refusal categories and made-up lists whose order decides the counts, on the corpora's
prose and generated text; and the category most named around a refusal must be the plain definition's."""

from __future__ import annotations

import random
import re

import pytest

from llmvet.validators.uncertainty import refusals
from llmvet.validators.uncertainty.alternatives import WRAP
from llmvet.validators.uncertainty.cues import _parts, load, read_cue_file, shipped_path
from llmvet.validators.uncertainty.firsts import by_first
from llmvet.validators.uncertainty.text import build_views
from tests.support.corpus import corpus_texts

FLAGS = re.M


def plain(parts: list[str]) -> re.Pattern[str]:
    """The definition: the entries joined in order (cues.compile_list)."""
    return re.compile(WRAP.format("|".join(f"(?:{p})" for p in parts)), FLAGS)


def shipped() -> dict[str, list[str]]:
    data = read_cue_file(shipped_path("en"))
    macros = {k: str(v) for k, v in (data.get("macros") or {}).items()}
    return {c: _parts(list(w), macros, c) for c, w in data["refusal_categories"].items()}


def proses() -> list[str]:
    return [build_views(t).prose for t in corpus_texts()]


GLUE = [" ", " ", ", ", ". ", "\n", "-", "'", "s ", "ing ", "x", ""]


def generated(words: list[str], seed: int, n: int, glue: list[str] = GLUE) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(words) + rng.choice(glue) for _ in range(rng.randint(1, 12))) for _ in range(n)]


def spans(rx: re.Pattern[str], text: str) -> list[tuple[int, int]]:
    return [m.span() for m in rx.finditer(text)]


def test_the_shipped_categories_are_put_under_first_characters():
    for cat, parts in shipped().items():
        rx = by_first(parts, FLAGS)
        assert rx is not None and rx.pattern != plain(parts).pattern, cat  # (not the plain join again)
        assert load("en").categories[cat].pattern == rx.pattern


def test_the_shipped_categories_find_what_the_plain_join_finds():
    lists = shipped()
    words = [w for ws in ("harm hurt hacking danger dangerous isn't safe is not safe not safe evade evasion",
                          "browse browsing the web live data current news files run code running code call",
                          "phone calls policy policies privacy doctor lawyer disinformation misinformation denial",
                          "rather not let's talk beyond my scope speculate role-play roleplaying licence license")
             for w in ws.split()]  # fmt: skip
    texts = proses() + generated(words, 1, 3000)
    found = 0
    for parts in lists.values():
        rx, reference = by_first(parts, FLAGS), plain(parts)
        assert rx is not None
        for text in texts:
            expected = spans(reference, text)
            assert spans(rx, text) == expected, text
            assert len(rx.findall(text)) == len(expected)
            found += len(expected)
    assert found > 5000


# Lists whose order decides what is found: "a" before "a b" leaves "b c" to match, the other way not.
MADE_UP = [
    ["a", "a b", "b c", "(?:a|b) d", "b"],
    ["a b", "a", "b c", "(?:a b|a) c", "ab\\w*", "abc"],
    ["x(?: y|)", "y z", "(?:x y|x) z", "z|y(?<= y)", "xyz"],
    ["it(?:'s| is) (?:not )?safe", "it", "is not", "safe|not safe"],
]
PIECES = ["a", "b", "c", "d", "ab", "abc", "x", "y", "z", "xy", "yz", "it", "'s", "is", "not", "safe"]


@pytest.mark.parametrize("entries", MADE_UP)
def test_made_up_lists_find_what_the_plain_join_finds(entries):
    rx, reference = by_first(entries, FLAGS), plain(entries)
    assert rx is not None and rx.pattern != reference.pattern
    texts = generated([p for p in PIECES if any(p in e for e in entries)], 2, 6000, [" ", " ", " ", "", ". ", "x"])
    backwards = plain(entries[::-1])  # the same entries in another order: what the texts can tell apart
    assert sum(spans(backwards, t) != spans(reference, t) for t in texts) > 20
    for text in texts:
        assert spans(rx, text) == spans(reference, text), text


def test_lists_that_cannot_be_split_are_joined_plainly():
    for entries in (["(a) \\1", "b"], ["\\w+ing", "a"], ["[ab]c", "d"], ["(?:a|b)+c", "d"], ["s?he", "a"], [""]):
        assert by_first(entries, FLAGS).pattern == plain(entries).pattern  # type: ignore[union-attr]
    assert by_first([], FLAGS) is None
    assert by_first(["ab", "ac"], FLAGS | re.I).pattern == re.compile(WRAP.format("(?:ab)|(?:ac)")).pattern  # type: ignore[union-attr]


def plain_most_named(lists: dict[str, list[str]], scope: str) -> str | None:
    best, best_n = None, 0
    for cat, parts in lists.items():
        n = len(plain(parts).findall(scope))
        if n > best_n:
            best, best_n = cat, n
    return best


def test_the_most_named_category_is_the_plain_definitions():
    cues, lists = load("en"), shipped()
    named = 0
    for prose in proses():
        for a in range(0, len(prose), 400):  # windows of the prose, and the whole of it
            scope = prose[a : a + 600]
            assert refusals._most_named(cues, scope) == plain_most_named(lists, scope), scope
        got = refusals._most_named(cues, prose)
        assert got == plain_most_named(lists, prose)
        named += got is not None
    assert named > 300
