"""Where a refused answer's prose may name each refusal category: one Hyperscan pass over it.

Why: refusals._most_named counts each category's matches (`findall`) in the sentences around a refusal,
four scans of ~280 characters, and _Asides.reason searched every sentence after a refusal for a safety
or policy word; `re` tries these lists at every position. Read once, uncertainty_instructions.py's
texts asked 968 category counts and 2,034 reason searches a pass, and the text held a string one of
whose matches need in 267 of those ranges and 183 of those sentences.

What: for each category, strings one of which each of its matches holds (alternatives.required, for each
alternative of the compiled list with the first character firsts.by_first takes out put back: "harm",
not "arm"); all of them as one literal database (literals.LiteralScan, counted wherever they occur).
`Keywords.in_view(prose)` scans the prose on first use; `may_name(category, a, b)` is False where none
of the category's strings starts in prose[a:b], so neither the category's pattern nor the reasons
pattern (built from the safety and policy lists) matches in any part of that range. Without the
`pyperscan` package, or for a category whose strings are not known, it is True (scan as before).

The same pass finds the strings of the asides' entries that scanners.lean leaves out where the prose
has none of them (`holds`): `any(s in prose for s in needs)` read the prose once for each of ten
strings (8.7 us a refused answer; the pass, made for the categories anyway, took 8.5 with its reports).
tests/validators/uncertainty/test_keywords.py checks it against the patterns on real answers.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from itertools import chain

from llmvet.validators.uncertainty.alternatives import required
from llmvet.validators.uncertainty.firsts import WRAP, top_level
from llmvet.validators.uncertainty.literals import LiteralScan
from llmvet.validators.uncertainty.patterns import Pattern
from llmvet.validators.uncertainty.scanners import lean

ASIDES = ("refusal_filler", "refusal_support", "refusal_alternative")  # the lists refusals._Asides matches
_HEAD, _TAIL = WRAP.split("{}")


class Keywords:
    """The categories' (and lean asides') strings as one literal database, `scan` (None: no Hyperscan, or
    no strings)."""

    def __init__(
        self, categories: Mapping[str, re.Pattern[str]], patterns: Mapping[str, Pattern | None] | None = None
    ) -> None:
        """`patterns`: the cue set's sections, for the asides' lean lists (scanners.lean)."""
        found: dict[str, Iterable[str] | None] = {cat: strings_of(rx) for cat, rx in categories.items()}
        self.open = frozenset(cat for cat, strings in found.items() if strings is None)  # always scanned
        # (an aside's name: the strings of its list's scanning entries, one of which `lean` asks for)
        self.leans = {s: split.needs for s in ASIDES if (split := lean((patterns or {}).get(s))) is not None}
        anywhere: dict[str, set[str]] = {}
        for name, strings in {**found, **self.leans}.items():
            for s in strings or ():
                anywhere.setdefault(s, set()).add(name)
        self.scan = LiteralScan.build({}, anywhere) if anywhere else None

    def in_view(self, prose: str, data: bytes | None = None) -> Named:
        """Where `prose` may name each category (`data`: its literals.encoded bytes, where known)."""
        return Named(self, prose, data)


class Named:
    """The starts of the categories' strings in one view, found on first use."""

    __slots__ = ("_data", "_keywords", "_starts", "_view")

    def __init__(self, keywords: Keywords, view: str, data: bytes | None) -> None:
        self._keywords, self._view, self._data = keywords, view, data
        self._starts: dict[str, list[list[int]]] | None = None

    def may_name(self, categories: Iterable[str], a: int, b: int) -> bool:
        """Can one of `categories` match in some part of view[a:b]? (False: none of its strings starts there.)"""
        keywords = self._keywords
        if keywords.scan is None:
            return True
        starts = self._found(keywords.scan)
        for cat in categories:
            if cat in keywords.open:
                return True
            for found in starts.get(cat, ()):
                i = bisect_left(found, a)
                if i < len(found) and found[i] < b:
                    return True
        return False

    def starts(self, categories: Iterable[str]) -> list[int] | None:
        """Where the strings of `categories` start in the view, ascending: `may_name(categories, a, b)` is
        whether one is in [a, b) (None: it is True everywhere)."""
        keywords = self._keywords
        if keywords.scan is None or not keywords.open.isdisjoint(categories):
            return None
        found = self._found(keywords.scan)
        return sorted(chain.from_iterable(chain.from_iterable(found.get(cat, ()) for cat in categories)))

    def holds(self, aside: str) -> bool | None:
        """True where `lean(the aside's list).may_scan(view)` is (and where the view has "?" for a character
        beyond ASCII in one of its strings); None: not known here (the caller asks `may_scan`)."""
        keywords = self._keywords
        if keywords.scan is None or aside not in keywords.leans:
            return None
        return aside in self._found(keywords.scan)

    def _found(self, scan: LiteralScan) -> dict[str, list[list[int]]]:
        if self._starts is None:
            self._starts = scan.scan(self._view, self._data)[0]
        return self._starts


def strings_of(rx: re.Pattern[str]) -> frozenset[str] | None:
    """Strings one of which each match of the category list `rx` (cues.build: WRAP around its body) holds."""
    pattern = rx.pattern
    if not (pattern.startswith(_HEAD) and pattern.endswith(_TAIL)):
        return None
    pieces = top_level(pattern[len(_HEAD) : len(pattern) - len(_TAIL)])
    out: set[str] = set()
    for piece in pieces or [pattern]:
        for alternative in _distributed(piece):
            need = required(alternative, rx.flags)
            if need is None or "" in need:
                return None
            out |= need
    return frozenset(out)


def _distributed(piece: str) -> list[str]:
    """`c(?:A|B)` (firsts.by_first's group under one character) as `cA`, `cB`; any other piece whole."""
    if piece[:1].isalnum() and piece[1:4] == "(?:" and piece.endswith(")"):
        inner = top_level(piece[4:-1])  # (None where that ")" closes no group opened at 1: "c(?:a)(?:b)")
        if inner is not None:
            return [piece[0] + p for p in inner]
    return [piece]
