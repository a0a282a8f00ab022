"""The Hyperscan pass of the start index (literals.py) against a plain search for every key."""

from __future__ import annotations

import random
import re
import threading
from itertools import chain

import pytest

from llmvet.validators.uncertainty.covers import is_word
from llmvet.validators.uncertainty.cues import load
from llmvet.validators.uncertainty.literals import LiteralScan, available
from llmvet.validators.uncertainty.runs import prefixed_occurrences as _prefixed_occurrences
from llmvet.validators.uncertainty.starts import StartIndex
from llmvet.validators.uncertainty.text import build_views

from .test_starts import _GLUE, _PHRASES, _WORDS, dev_texts

pytestmark = pytest.mark.skipif(not available(), reason="no pyperscan")

KEYS = {
    "i": {"a"},
    "i'm": {"a", "b"},  # adds b to its prefix's a
    "i'm n": {"b"},  # adds nothing: left out, found through "i'm"
    "not": {"c"},
    "not su": {"d"},
    "may": {"e"},
    " _": {"f"},  # starts with a blank
    "#": {"f"},
    "\u2022 ": {"g"},  # not ASCII: "? " in the scan
    "na\u00efve": {"g", "h"},
    "\u0663\u0660%": {"h"},
    "_": {"i"},
    "x_y": {"i"},
}


ANYWHERE = {  # cover strings of patterns that may start inside a word
    "part": {"j"},
    "parts i": {"k"},
    "a": {"k"},
    "may": {"j"},  # also a key of "e" above, there only after a non-word character
}


def naive(keys: dict[str, set[str]], view: str, anywhere: dict[str, set[str]] | None = None) -> dict[str, list[int]]:
    """Each name's starts: where one of its keys occurs after a non-word character or at the start, or
    one of its `anywhere` strings occurs."""
    out: dict[str, set[int]] = {}
    for p in range(len(view)):
        for group, anchored in ((keys, True), (anywhere or {}, False)):
            if anchored and p and is_word(view[p - 1]):
                continue
            for key, names in group.items():
                if view.startswith(key, p):
                    for name in names:
                        out.setdefault(name, set()).add(p)
    return {name: sorted(found) for name, found in out.items()}


def flat(grouped: dict[str, list[list[int]]]) -> dict[str, list[int]]:
    out = {}
    for name, lists in grouped.items():
        starts = sorted(chain.from_iterable(lists))
        assert len(starts) == len(set(starts)), name  # no start listed twice for a name
        assert all(lst == sorted(lst) for lst in lists)
        out[name] = starts
    return out


def without_hyperscan(index: StartIndex, view: str) -> dict[str, list[int]]:
    """What the start index finds without the scan: its word pass, and `str.find` for the free names."""
    out = flat(index._word_pass(view)[1])
    for name, groups in index.free.items():
        if found := _prefixed_occurrences(view, groups):
            out[name] = found
    return out


def views(rng: random.Random) -> list[str]:
    words = [*_WORDS, *_PHRASES, *KEYS, *ANYWHERE, "dismay", "mayday", "apart", "not", "x_y_", "?", "??"]
    plain = [w for w in words if w.isascii() and "?" not in w]  # half the views: compared exactly
    return [
        "".join(rng.choice(plain if k % 2 else words) + rng.choice(_GLUE) for _ in range(rng.randrange(0, 50)))
        for k in range(600)
    ]


# A gate in the pass leaves the keys out of it: each name's starts are then found by its own database
# (LiteralScan.starts_of), and `grouped` asks every name's.
GATE = [(b"zq+", ("z",))]


@pytest.mark.parametrize("gates", [[], GATE], ids=["keys in the pass", "keys by name"])
def test_the_scan_finds_each_key_where_a_plain_search_does(gates):
    scan = LiteralScan(KEYS, ANYWHERE, gates=gates)
    assert scan.lazy == bool(gates)
    rng = random.Random(19)
    compared = exact = 0
    for view in views(rng):
        found, expected = flat(scan.grouped(view)), naive(KEYS, view, ANYWHERE)
        if view.isascii() and "?" not in view:
            assert found == expected, view
            exact += 1
        else:  # "?" stands for any character beyond ASCII, in a key and in the view: more starts, never fewer
            for name, starts in expected.items():
                assert set(starts) <= set(found.get(name, ())), (name, view)
        compared += sum(map(len, expected.values()))
    assert compared > 2000 and exact > 250


def test_the_shipped_keys_are_found_as_the_word_pass_finds_them_on_real_answers():
    index = load("en").starts
    assert index is not None and index.literal is not None  # the shipped cue set uses the scan
    rng = random.Random(23)
    texts = dev_texts()
    exact = 0
    for text in rng.sample(texts, 200):
        prose = build_views(text).prose
        found, expected = flat(index.literal.grouped(prose)), without_hyperscan(index, prose)
        if prose.isascii() and "?" not in prose:
            assert found == expected, prose
            exact += 1
        else:  # (see above)
            for name, starts in expected.items():
                assert set(starts) <= set(found.get(name, ())), (name, prose)
    assert exact > 50


@pytest.mark.parametrize("gates", [[], GATE], ids=["keys in the pass", "keys by name"])
def test_threads_scanning_at_once_each_get_their_own_results(gates):
    scan = LiteralScan(KEYS, gates=gates)
    rng = random.Random(29)
    texts = views(rng)[:200]
    expected = [flat(scan.grouped(t)) for t in texts]
    failures: list[str] = []

    def work(offset: int) -> None:
        for _ in range(5):
            for i in range(len(texts)):
                j = (i + offset) % len(texts)
                try:
                    if flat(scan.grouped(texts[j])) != expected[j]:
                        failures.append(texts[j])
                except Exception as exc:  # a shared scratch space raises "scratch in use"
                    failures.append(repr(exc))

    threads = [threading.Thread(target=work, args=(k * 37,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_long_views_at_shifted_offsets_are_found_as_the_word_pass_finds_them():
    # (a Hyperscan build was seen to miss a regex match only when it began past offset 20: the keys are
    # checked far into long views and with their offsets shifted)
    index = load("en").starts
    assert index is not None and index.literal is not None
    rng = random.Random(31)
    texts = dev_texts()
    for k in range(40):
        text = "x" * rng.randrange(0, 300) + " " + "\n\n".join(rng.sample(texts, rng.randrange(5, 40)))
        for view in (build_views(text).prose, text.lower()):
            view = view.encode("ascii", "ignore").decode().replace("?", ".")  # compared exactly
            assert flat(index.literal.grouped(view)) == without_hyperscan(index, view), k


@pytest.mark.parametrize("gates", [[], GATE], ids=["keys in the pass", "keys by name"])
def test_keys_after_every_kind_of_character_and_at_the_start(gates):
    # what stands before a key decides whether it counts: every ASCII character is tried, NUL among them
    scan = LiteralScan(KEYS, ANYWHERE, gates=gates)
    characters = [chr(c) for c in range(0x80)] + ["\u00e9", "\u2014", "\u0663", "?"]
    for key in ("i", "a", "_", "#", "i'm", "may"):
        for c in characters:
            for view in (c + key + " x", "x " + c + key, c + key):
                found, expected = flat(scan.grouped(view)), naive(KEYS, view, ANYWHERE)
                if view.isascii() and "?" not in view:
                    assert found == expected, repr(view)
                else:
                    assert all(set(v) <= set(found.get(n, ())) for n, v in expected.items()), repr(view)


def test_present_strings_found_by_the_start_pass_equal_a_separate_present_scan():
    """The strings whose entries a view keeps (alternatives.Present) ride in the start index's pass:
    what that pass reports equals a separate Present scan, and the keys' starts do not change."""
    from llmvet.validators.uncertainty.alternatives import Present
    from llmvet.validators.uncertainty.starts import Found

    cues = load("en")
    present = cues.present
    # (the shipped set asks for them only where it has no gates, prefilter.py: its own start index as then)
    assert cues.starts is not None and cues.starts.literal is not None and cues.starts.literal.gated
    assert cues.starts.literal.present == [] and present is not None
    index = StartIndex(dict(cues.indexed), present=present.strings)
    assert index.literal is not None
    assert index.literal.present == present.strings and len(present.strings) > 50
    plain = StartIndex({}, literal_scan=False)  # (no keys: only to show the pass is not needed for Found)
    rng = random.Random(31)
    texts = [build_views(t) for t in rng.sample(dev_texts(), 200)]
    keys_only = LiteralScan(*_keys_of(index))  # the same keys without the strings
    checked = nonempty = 0
    for view in [v.prose for v in texts] + [v.comments for v in texts] + views(rng)[:200]:
        table = index.starts(view)
        assert table.present() == present(view), view
        assert Found(present, view, table).get() == Found(present, view).get() == present(view)
        assert Found(present, view, plain.starts(view)).get() == present(view)
        assert flat(index.literal.scan(view)[0]) == flat(keys_only.grouped(view))
        checked += 1
        nonempty += bool(present(view))
    assert checked > 500 and nonempty > 150
    only = LiteralScan(KEYS, ANYWHERE, ["not sure", "x_y", "\u00e9t\u00e9"])
    assert only.scan("i'm not sure x_y")[1] == {"not sure", "x_y"} and Present(only.present)("i'm not sure x_y") == {
        "not sure",
        "x_y",
    }


def _keys_of(index: StartIndex) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """The keys and free strings `index` built its LiteralScan from, rebuilt without `present`."""
    keys: dict[str, set[str]] = {}
    for table in index._tables:
        for key, group in table.items():
            keys.setdefault(key, set()).update(index._group_names[group])
    free: dict[str, set[str]] = {}
    for name, prefixed in index.free.items():
        for _, group_strings in prefixed:
            for string in group_strings:
                free.setdefault(string, set()).add(name)
    return keys, free


def test_each_key_stands_for_the_entries_a_match_of_which_may_begin_where_it_occurs():
    """literals._masks: an entry's bit where one of its cover strings begins with the key or the key
    begins with it (a key longer than an entry's cover string: "i'm not" for "i'm no"), compared as the
    scan reads them ("?" for a character beyond ASCII); an entry that starts at a word run has no key's."""
    from llmvet.validators.uncertainty.alternatives import Alternatives
    from llmvet.validators.uncertainty.literals import _masks

    entries = ["i'm not sure", "i(?:'d| would) guess", "not sure", r"\w+ly unsure", "na\u00efve"]
    alts = Alternatives([(e, None) for e in entries], re.M)
    keys = [b"i", b"i'm n", b"i'm not", b"not s", b"xyz", b"na?v", b"unsure"]
    assert _masks(keys, alts.entries) == [0b00011, 0b00001, 0b00001, 0b00100, 0, 0b10000, 0]


def test_the_shipped_lists_masks_equal_a_pairwise_comparison():
    """`_masks` reads prefix tables (a pairwise comparison of keys and cover strings took ~30 s of CPU
    for the shipped set); the same bits as comparing each key with each entry's every cover string."""
    from llmvet.validators.uncertainty.covers import LONG, MAX_KEY, cover
    from llmvet.validators.uncertainty.literals import _masks, encoded

    cues = load("en")
    assert cues.starts is not None and cues.starts.literal is not None
    rng = random.Random(43)
    for name, alts in cues.alternatives.items():
        keys = cues.starts.literal.keys_of(name)
        sample = rng.sample(keys, min(60, len(keys)))
        covers = [[encoded(s) for s in cover(rx, LONG) or () if len(s) <= MAX_KEY] for rx, _ in alts.entries]
        pairwise = [
            sum(1 << i for i, own in enumerate(covers) if any(s.startswith(k) or k.startswith(s) for s in own))
            for k in sample
        ]
        assert _masks(sample, alts.entries) == pairwise and any(pairwise), name
