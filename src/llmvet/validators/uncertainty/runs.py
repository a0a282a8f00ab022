"""Starts found without the start keys: from digit / word runs under a cover marker's conditions, and
with `str.find` for the cover strings of patterns that may start inside a word (starts.py)."""

from __future__ import annotations

_FEW = 64  # starts checked one by one below this many

# literal the view must hold -> (no other condition, strings one of which precedes, non-word characters
# one of which comes just before the digit/word)
Conditions = dict[str, tuple[bool, frozenset[str], frozenset[str]]]


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
