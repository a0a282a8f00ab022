"""Where each cue pattern can start in a view, from one pass over its words (exact, not a heuristic).

Why: Python's `re` finditer tries a cue alternation at every position of the view: each of some twenty
sections cost a full backtracking scan, ~13 ms on a 10 KB answer, 1.3 ms per KB. An RE2 prefilter over
every section skipped sections only where its lazily built DFA had already read the text (cues.py).

What: covers.py reads from a pattern's parse tree its *cover* (short literal strings one of which
begins every match, and digit/word markers) and whether it can start only *after a non-word
character*. Such a pattern's matches start where a `\\w+` run starts, or at a non-word character
preceded by one, which one pass of the view lists for all patterns at once; each start's first LONG
characters are looked up in one table (longest key they begin with -> patterns; remembered, as the
same words start many texts); marker starts come from the digit / word
runs that meet the marker's conditions. Other covered patterns find their starts with `str.find`
for each string of their cover. Where the `pyperscan` package is installed, literals.py finds the
keys and those strings in one linear pass instead (the same starts; the word pass stays the fallback).

`Indexed.finditer(view)` then calls `rx.match(view, p)` at those starts only, in order, skipping starts
inside the last match: leftmost-first, non-overlapping, exactly what `rx.finditer(view)` returns (a
match at p is what a search reaching p would find; every match is non-empty, so a scan goes on at
its end; look-behinds and `^` see the whole string whatever `pos` is, as they do in a search).
tests/validators/uncertainty/test_starts.py compares every path
with plain `re` on generated and real text.
"""

from __future__ import annotations

import re
import sys
from bisect import bisect_left
from collections.abc import Container, Hashable, Iterable, Iterator, Mapping, Sequence
from functools import partial
from itertools import chain

from llmvet.validators.uncertainty.alternatives import Alternatives, Entry, Present
from llmvet.validators.uncertainty.alternatives import match as match_entries
from llmvet.validators.uncertainty.covers import LONG, MAX_KEY, after_nonword, cover, is_word
from llmvet.validators.uncertainty.literals import LiteralScan, encoded, entry_masks
from llmvet.validators.uncertainty.patterns import Delegating
from llmvet.validators.uncertainty.runs import (
    Conditions,
    EntryRuns,
    Prefixed,
    add_runs,
    by_prefix,
    digit_starts,
    marker_conditions,
    prefixed_occurrences,
)

_WORD_RUN = re.compile(r"\w+")
_MAX_MEMO = 50_000  # first-character strings remembered (no text can grow it without bound)


# (a view's word starts, its keys' starts by name, its `present` strings, the labels of its open gates)
_Pass = tuple[list[int] | None, dict[str, list[list[int]]], set[str] | None, set[Hashable] | None]


class StartIndex:
    """The covers of a fixed set of named patterns, and the starts of each in a view."""

    def __init__(
        self,
        patterns: Mapping[str, re.Pattern[str]],
        literal_scan: bool = True,
        present: Iterable[str] = (),
        gates: Sequence[tuple[bytes, tuple[Hashable, ...]]] = (),
        alternatives: Mapping[str, Alternatives] | None = None,
    ) -> None:
        keys: dict[str, set[str]] = {}  # start key -> names of the patterns it may start
        self.free: dict[str, Prefixed] = {}  # name -> cover (by prefix), for patterns found with str.find
        # name -> conditions under which the pattern may start at a digit / word (see _add)
        self.digit: dict[str, Conditions] = {}
        self.word: dict[str, Conditions] = {}
        for name, rx in patterns.items():
            strings = cover(rx, LONG)
            anchored = strings is not None and after_nonword(rx)
            if strings is None or (not anchored and any(len(s) > MAX_KEY for s in strings)):
                continue
            if not anchored:
                self.free[name] = by_prefix(sorted(strings))
                continue
            for s in strings:
                if len(s) <= MAX_KEY:
                    keys.setdefault(s, set()).add(name)
            digit, word = marker_conditions(strings)
            if digit:
                self.digit[name] = digit
            if word:
                self.word[name] = word
        self.indexed = frozenset(set(self.free).union(self.digit, self.word, *keys.values()))
        # A start's first LONG characters are looked up as the longest key they begin with, which stands
        # for its own names and those of its shorter prefixes, as a group number (-1: none).
        merged: dict[str, frozenset[str]] = {}
        for k in sorted(keys, key=len):  # a key's shorter prefixes are merged before it
            shorter = next((merged[k[:i]] for i in range(len(k) - 1, 0, -1) if k[:i] in merged), frozenset())
            merged[k] = shorter | keys[k]
        groups = sorted(set(merged.values()), key=sorted)
        number = {names: i for i, names in enumerate(groups)}
        self._tables = [{k: number[v] for k, v in merged.items() if len(k) == n} for n in range(LONG + 1)]
        self._group_names = [tuple(sorted(names)) for names in groups]  # group number -> the names it starts
        self._memo: dict[str, int] = {}  # first characters at a start -> group (texts repeat them)
        nonword = "".join(sorted({k[0] for k in keys if not is_word(k[0])}))
        # a non-word character that starts a key, preceded by a non-word character (or the view's start)
        self._nonword = re.compile(f"[{re.escape(nonword)}](?<!\\w.)", re.S) if nonword else None
        # the keys found by one Hyperscan pass instead (literals.py), where the package is installed
        free_strings: dict[str, set[str]] = {}
        for name, prefixed in self.free.items():
            for _, group in prefixed:
                for string in group:
                    free_strings.setdefault(string, set()).add(name)
        # (with the strings `Found` asks for and the gates: one Hyperscan pass a view finds all three)
        self.literal = LiteralScan.build(keys, free_strings, present, gates) if literal_scan else None
        # name -> for each key of its own database, the entries (`alternatives`, cues.py) it may start
        self.masks = entry_masks(self.literal, alternatives or {})
        # name -> its digit / word conditions entry by entry, for the sections with entries and such conditions
        self.entry_runs = {
            name: EntryRuns([rx for rx, _ in alts.entries], (self.digit.get(name, {}), self.word.get(name, {})))
            for name, alts in (alternatives or {}).items()
            if name in self.digit or name in self.word
        }

    def starts(self, view: str, data: bytes | None = None) -> Starts:
        """The starts of every indexed pattern in `view` (one pass, on first use; each pattern's list made
        on demand). `data`: literals.encoded(view), where the caller has it (text.Views.prose_data)."""
        return Starts(self, view, data)

    def _group(self, v: str) -> int:
        tables = self._tables
        for n in range(len(v), 0, -1):
            g = tables[n].get(v[:n])
            if g is not None:
                return g
        return -1

    def _pass(self, view: str, data: bytes | None = None) -> _Pass:
        """The view's word starts (None: not worked out), for each name the (non-empty) lists of grouped
        starts it may start at (a name the view has no grouped start for is not a key), the
        LiteralScan's `present` strings in the view and the labels of its gates that match there (None:
        no LiteralScan, or no gates). `data`: literals.encoded(view), where the caller has it."""
        if self.literal is not None:
            grouped, present, opened = self.literal.scan(view, data)
            return None, grouped, present, opened if self.literal.gated else None
        return *self._word_pass(view), None, None

    def _word_pass(self, view: str) -> tuple[list[int], dict[str, list[list[int]]]]:
        """`_pass` without Hyperscan: each start's first characters looked up in the tables."""
        words = [m.start() for m in _WORD_RUN.finditer(view)]
        positions = words
        if self._nonword is not None:
            extra = [m.start() for m in self._nonword.finditer(view)]
            if extra:
                positions = sorted(words + extra)
        memo = self._memo
        known = memo.get
        # group -> its starts, for the groups the view has (not a list per group: ~200 of them, and a
        # short view has a handful, so making and walking them all was most of its pass)
        grouped: dict[int, list[int]] = {}
        for p in positions:
            v = view[p : p + LONG]
            g = known(v)
            if g is None:
                g = self._group(v)
                if len(memo) < _MAX_MEMO:
                    memo[v] = g
            if g >= 0:
                found = grouped.get(g)
                if found is None:
                    grouped[g] = [p]
                else:
                    found.append(p)
        live: dict[str, list[list[int]]] = {}
        names = self._group_names
        for g, found in grouped.items():
            for name in names[g]:
                live.setdefault(name, []).append(found)
        return words, live


class Starts:
    """Where each indexed pattern may start in one view."""

    __slots__ = ("_data", "_digits", "_done", "_grouped", "_index", "_opened", "_present", "_view", "_words")

    def __init__(self, index: StartIndex, view: str, data: bytes | None = None) -> None:
        self._index, self._view = index, view
        self._words: list[int] | None = None  # where `\w+` runs start, on first use
        self._grouped: dict[str, list[list[int]]] | None = None  # the pass over the view, made on first use
        self._digits: list[int] | None = None
        self._present: set[str] | None = None  # (from the pass, where the LiteralScan made it)
        self._opened: set[Hashable] | None = None  # (likewise)
        self._done: dict[str | tuple[str, int], list[int]] = {}
        # the view as the LiteralScan reads it (literals.encoded), given or made with the pass; the digit
        # runs' scan reads it too (runs.digit_starts)
        self._data: bytes | None = data

    def live(self, shut: Container[str] = ()) -> set[str]:
        """The names that may start somewhere in the view (makes the pass, not their lists); CueSet.for_text
        leaves the others None. Those the view has a grouped start for, those found with str.find, and
        those with digit / word conditions where the view has such a start and one of their literals
        (`_add` adds nothing otherwise): a superset of the names whose lists are not empty. The digit /
        word conditions of names in `shut` (skipped whatever this says: their gates stay shut) are not
        looked at (the view's digit runs, a scan of it, are seldom needed then)."""
        index, view = self._index, self._view
        out = set(self._made())
        literal = index.literal
        if literal is None:  # (else the free names' starts are in the pass)
            out.update(index.free)
        elif literal.lazy:  # (the pass has the gates, not the keys: each name's are found when it is scanned)
            out.update(literal.keyed)
        for name, conditions in index.digit.items():
            if (
                name not in out
                and name not in shut
                and self._digit_starts()
                and any(map(view.__contains__, conditions))
            ):
                out.add(name)
        for name, conditions in index.word.items():
            if name not in out and name not in shut and any(map(view.__contains__, conditions)) and self._word_starts():
                out.add(name)
        return out

    def present(self) -> set[str] | None:
        """The LiteralScan's `present` strings in the view (None: it has none or there is no LiteralScan)."""
        index = self._index
        if index.literal is None or not index.literal.present:
            return None
        self._made()
        return self._present

    def opened(self) -> set[Hashable] | None:
        """The labels of the gates (prefilter.py) that match in the view; None: no gate was asked (no
        Hyperscan), every label counts as open."""
        self._made()
        return self._opened

    def _made(self) -> dict[str, list[list[int]]]:
        """The grouped starts, after the pass over the view (made once, by whichever asks first)."""
        if self._grouped is None:
            if self._index.literal is not None and self._data is None:
                self._data = encoded(self._view)
            self._words, self._grouped, self._present, self._opened = self._index._pass(self._view, self._data)
        return self._grouped

    def _word_starts(self) -> list[int]:
        if self._words is None:
            self._words = [m.start() for m in _WORD_RUN.finditer(self._view)]
        return self._words

    def _digit_starts(self) -> list[int]:
        if self._digits is None:
            self._digits = digit_starts(self._view, self._data)
        return self._digits

    def of(self, name: str, kept: int = -1) -> list[int]:
        """The positions where a match of pattern `name` may start, ascending; with `kept` (not -1: the
        entries a view keeps as bits, alternatives.Alternatives.kept_bits) where one of theirs may."""
        key = name if kept == -1 else (name, kept)
        found = self._done.get(key)
        if found is None:
            found = self._done[key] = self._make(name, kept)
        return found

    def _make(self, name: str, kept: int = -1) -> list[int]:
        index, view = self._index, self._view
        literal = index.literal
        if name in index.free and literal is None:
            return prefixed_occurrences(view, index.free[name])
        lists = self._made().get(name, ())
        if literal is not None and literal.lazy:
            assert self._data is not None  # (made with the pass)
            found = literal.starts_of(name, view, self._data, index.masks.get(name), kept)  # (a new list)
        elif not lists:
            found = []
        elif len(lists) == 1:
            found = list(lists[0])  # (a copy: _add changes `found` in place)
        else:
            found = sorted(chain.from_iterable(lists))
        runs = index.entry_runs.get(name)
        digit, word = (index.digit.get(name), index.word.get(name)) if runs is None else runs.of(kept)
        # (`_add` adds nothing where none of the conditions' literals is in the view: no list made then)
        if digit and any(map(view.__contains__, digit)):
            add_runs(found, view, self._digit_starts(), digit)
        if word and any(map(view.__contains__, word)):
            add_runs(found, view, self._word_starts(), word)
        return found


class Found:
    """The strings of `present` that occur in one view, worked out on first use (alternatives.py)."""

    __slots__ = ("_found", "_present", "_table", "_view")

    def __init__(self, present: Present | None, view: str, table: Starts | None = None) -> None:
        # `table`: the view's starts; its pass finds the strings too where its LiteralScan has them (cues.load)
        self._present, self._view, self._table = present, view, table
        self._found: set[str] | None = None

    def get(self) -> set[str]:
        if self._found is None:
            found = None if self._table is None or self._present is None else self._table.present()
            if found is None:
                found = set() if self._present is None else self._present(self._view)
            self._found = found
        return self._found


class Indexed(Delegating):
    """A cue pattern as scans of one view see it: `finditer(view)` (whole or a range) tries the pattern at
    its starts only (see the module docstring), and where its section's entries are known (`alts`),
    only those whose gate matches in the view (prefilter.py, where the table has gates) and, with `found`,
    that the view holds a string of (alternatives.py); any other call goes to the pattern itself."""

    __slots__ = ("_alts", "_bits", "_found", "_kept", "_name", "_starts", "_table")

    def __init__(
        self,
        rx: re.Pattern[str],
        text: str,
        table: Starts,
        name: str,
        alts: Alternatives | None = None,
        found: Found | None = None,
    ) -> None:
        self.rx = rx
        self.text = text
        self._table = table
        self._name = name
        self._starts: list[int] | None = None  # worked out on first use
        self._alts: Alternatives | None = alts
        self._found: Found | None = found
        self._kept: list[Entry] | None = None
        self._bits: int | None = None  # the entries kept, as bits (on first use)

    def starts(self) -> list[int]:
        if self._starts is None:  # (where the entries are known, the starts of those the view keeps)
            self._starts = self._table.of(self._name, -1 if self._alts is None else self._kept_bits())
        return self._starts

    def _kept_bits(self) -> int:
        """The section's entries the view keeps, as bits (`alts` is known)."""
        if self._bits is None:
            assert self._alts is not None
            present = None if self._found is None else self._found.get()
            self._bits = self._alts.kept_bits(present, self._opened_entries())
        return self._bits

    def _opened_entries(self) -> list[int] | None:
        """The numbers of this section's entries whose gate matches in the text (None: not gated)."""
        opened = self._table.opened()
        if opened is None:
            return None
        name = self._name
        return [label[1] for label in opened if type(label) is tuple and label[0] == name]

    def can_start_in(self, string: str, pos: int, endpos: int) -> bool:
        """False when `search(string, pos, endpos)` cannot find a match (no start in [pos, endpos))."""
        if string is not self.text:
            return True
        starts = self.starts()
        i = bisect_left(starts, pos)
        return i < len(starts) and starts[i] < endpos

    def finditer(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> Iterator[re.Match[str]]:
        if string is not self.text:
            return self.rx.finditer(string, pos, endpos)
        return iter(self._scan(max(pos, 0), min(endpos, len(string))))

    def _scan(self, pos: int, endpos: int) -> list[re.Match[str]]:
        """`rx.finditer(text, pos, endpos)`: leftmost first, each search going on where the last match
        ended (every match is non-empty: see `cover`)."""
        out: list[re.Match[str]] = []
        if self._alts is None:
            match = self.rx.match
        else:
            if self._kept is None:
                self._kept = self._alts.entries_of(self._kept_bits())
            if not self._kept:
                return out  # no entry has what its matches need in this view
            match = partial(match_entries, self._kept)
        starts, text = self.starts(), self.text
        if not starts:
            return out
        if pos or endpos < len(text):  # (a range: its starts only)
            starts = starts[bisect_left(starts, pos) : bisect_left(starts, endpos)]
        last = pos
        for p in starts:
            if p < last:
                continue  # (inside the last match)
            m = match(text, p, endpos)
            if m is not None:
                out.append(m)
                last = m.end()
        return out
