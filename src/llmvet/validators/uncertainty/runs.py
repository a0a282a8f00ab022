"""Starts found without the start keys: from digit / word runs under a cover marker's conditions, and
with `str.find` for the cover strings of patterns that may start inside a word (starts.py)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from llmvet.validators.uncertainty.covers import DIGIT, LONG, MAX_KEY, OR, cover, fields

_FEW = 64  # starts checked one by one below this many

# literal the view must hold -> (no other condition, strings one of which precedes, non-word characters
# one of which comes just before the digit/word)
Conditions = dict[str, tuple[bool, frozenset[str], frozenset[str]]]


def marker_conditions(strings: Iterable[str]) -> tuple[Conditions, Conditions]:
    """The conditions under which a pattern with these cover strings may start at a digit, and at a word:
    from its markers (the strings longer than MAX_KEY, covers.py), by the literal each needs."""
    digit: Conditions = {}
    word: Conditions = {}
    for s in strings:
        if len(s) <= MAX_KEY:
            continue
        kind, literal, behind, lead = fields(s)
        conditions = digit if kind == DIGIT else word
        anywhere, befores, leads = conditions.get(literal, (False, frozenset(), frozenset()))
        if behind and not lead:
            befores |= frozenset(behind.split(OR))
        elif lead:
            leads |= {lead}
        else:
            anywhere = True
        conditions[literal] = (anywhere, befores, leads)
    return digit, word


class EntryRuns:
    """A section's digit / word conditions for some of its entries (bit i: entry i, as
    alternatives.Alternatives numbers them): where a view keeps none of the entries with a marker, no run
    starts one of its matches.

    Why: statement_strong's one entry that may start at a digit ("1. Low confidence") made every digit
    run of a view a start of the section, ~6,000 tries a pass of uncertainty_instructions.py against
    ~2,900 from its keys, in views whose gates kept that entry in ~1 in 20 (prefilter.py)."""

    def __init__(self, entries: Sequence[re.Pattern[str]], section: tuple[Conditions, Conditions]) -> None:
        self._section = section  # (the whole section's: for an entry without a cover, kept)
        self._uncovered = 0
        self._marked: list[tuple[int, Conditions, Conditions]] = []
        for i, rx in enumerate(entries):
            strings = cover(rx, LONG)
            if strings is None:
                self._uncovered |= 1 << i
            elif any(len(s) > MAX_KEY for s in strings):
                self._marked.append((1 << i, *marker_conditions(strings)))

    def of(self, kept: int) -> tuple[Conditions, Conditions]:
        """The digit and word conditions of the entries in `kept` (-1: all of them)."""
        if kept == -1 or kept & self._uncovered:
            return self._section
        digit: Conditions = {}
        word: Conditions = {}
        for bit, d, w in self._marked:
            if kept & bit:
                digit, word = _merged(digit, d), _merged(word, w)
        return digit, word


def _merged(a: Conditions, b: Conditions) -> Conditions:
    """Conditions met where `a`'s or `b`'s are."""
    out = dict(a)
    for literal, (anywhere, befores, leads) in b.items():
        x, y, z = out.get(literal, (False, frozenset(), frozenset()))
        out[literal] = (anywhere or x, befores | y, leads | z)
    return out


DIGIT_START = re.compile(r"\d(?<!\w.)", re.S)  # a `\w+` run that starts with what `\d` matches
# A byte per character of the view (`encode(..., "replace")`: one "?" for each non-ASCII one): an ASCII digit
# to "1", another ASCII word character to "w", "?" (a non-ASCII character, or a "?") to "u", the rest to " ".
_DIGIT_MARKS = bytes(
    ord("1") if chr(c).isdigit() else ord("w") if chr(c).isalnum() or c == 95 else ord("u") if c == 63 else 32
    for c in range(128)
) + bytes(range(128, 256))  # (encode gives no byte above 127)


def digit_starts(view: str, data: bytes | None = None) -> list[int]:
    """`[m.start() for m in DIGIT_START.finditer(view)]`. That scan read every character in `re` (8 us on a
    1 KB answer, where the answer had five digits); here the view is translated once in C and its " 1"
    marks found with `bytes.find`: an ASCII digit after an ASCII non-word character starts a run. Next to
    a "u" (a non-ASCII character, which may be a digit or a word character, or a "?") the regex is asked.
    `data`: `view.encode("ascii", "replace")`, where the caller has it."""
    marks = (view.encode("ascii", "replace") if data is None else data).translate(_DIGIT_MARKS)
    found = [0] if marks[:1] == b"1" else []
    i = marks.find(b" 1")
    while i >= 0:
        found.append(i + 1)
        i = marks.find(b" 1", i + 2)
    q = marks.find(b"u")
    if q < 0:
        return found
    odd: set[int] = set()
    while q >= 0:  # the character itself, if `\d` matches it (str.isdecimal), and an ASCII digit after it
        if view[q].isdecimal() and DIGIT_START.match(view, q):
            odd.add(q)
        if q + 1 < len(marks) and marks[q + 1] == 49 and DIGIT_START.match(view, q + 1):
            odd.add(q + 1)
        q = marks.find(b"u", q + 1)
    return sorted(odd.union(found)) if odd else found


def add_runs(found: list[int], view: str, starts: list[int], conditions: Conditions) -> None:
    """Add to `found` (in place, kept sorted) the `starts` that meet one of the conditions."""
    extra: set[int] = set()
    leads: dict[int, set[str]] = {}  # length -> leads (of conditions whose literal the view holds)
    for literal, (anywhere, behind, lead_strings) in conditions.items():
        if literal not in view:
            continue
        if anywhere:
            extra.update(starts)
            break
        if behind:
            after = {q + len(b) for b in behind for q in _occurrences(view, (b,))}
            extra.update(after.intersection(starts))
        for lead in lead_strings:
            leads.setdefault(len(lead), set()).add(lead)
    for n, strings in leads.items():
        if len(starts) <= _FEW:
            extra.update(q - n for q in starts if q >= n and view[q - n : q] in strings)
        else:  # many starts (every word): from where the leads occur instead
            ends = {i + n for i in _occurrences(view, tuple(strings))}
            extra.update(q - n for q in ends.intersection(starts))
    if extra:
        found[:] = sorted(extra.union(found))


def _occurrences(view: str, strings: tuple[str, ...]) -> list[int]:
    found: set[int] = set()
    for s in strings:
        i = view.find(s)
        while i >= 0:
            found.add(i)
            i = view.find(s, i + 1)
    return sorted(found)


# (prefix, the cover strings that begin with it): one str.find per prefix, `startswith` where it occurs
Prefixed = tuple[tuple[str, tuple[str, ...]], ...]


def by_prefix(strings: list[str], n: int = 3) -> Prefixed:
    """The strings grouped by their first `n` characters, each group under its longest common prefix."""
    groups: dict[str, list[str]] = {}
    for s in strings:
        groups.setdefault(s[:n], []).append(s)
    return tuple((_common_prefix(group), tuple(group)) for group in groups.values())


def _common_prefix(strings: list[str]) -> str:
    first, last = min(strings), max(strings)  # (what these two share, all share)
    n = 0
    while n < len(first) and first[n] == last[n]:
        n += 1
    return first[:n]


def prefixed_occurrences(view: str, groups: Prefixed) -> list[int]:
    """`_occurrences` of all the strings (each occurs only where its group's prefix does)."""
    found: set[int] = set()
    for prefix, strings in groups:
        whole = strings == (prefix,)
        i = view.find(prefix)
        while i >= 0:
            if whole or view.startswith(strings, i):
                found.add(i)
            i = view.find(prefix, i + 1)
    return sorted(found)
