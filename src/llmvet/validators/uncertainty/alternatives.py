"""A cue section's alternation tried one entry at a time, only the entries a view can hold a match of.

Why: at a start the index lists (starts.py), `rx.match` tries every entry of a section in turn; the
statement lists are long, and their entries that begin with common words ("this", "my", "i") run
through up to four words and back before failing. On the 539 dev answers read once that engine work
was 0.15 of 0.65 ms/KB, most of it in entries that cannot match anywhere in the answer: each needs a
word ("outdated", "from memory") the answer does not have.

What: `required(part)` reads from an entry's parse tree a set of strings one of which every match of
it contains (None: not known). A view's `present` strings are found by the start index's Hyperscan
pass (literals.py: each reported once, in the same scan as the start keys; without the package,
`Present` looks for them with `str.find`). `Alternatives.kept(present)` lists, in the order the
section's compiled pattern tries them, the entries whose required strings the view has, each compiled
with the section's word boundaries, with the first characters it can start with where cues.py grouped
it. `match(kept, text, p, endpos)` is `rx.match(text, p, endpos)`: a backtracking alternation returns
the first entry, in that order, that matches with what follows it; an entry left out cannot match.
tests/validators/uncertainty/test_alternatives.py compares both on real and generated text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from re import _constants as _sre  # type: ignore[attr-defined]  # private (not in typeshed)
from re import _parser as _sre_parse  # type: ignore[attr-defined]  # private (not in typeshed)
from typing import Any

from llmvet.validators.uncertainty.firsts import WRAP, alternatives_of
from llmvet.validators.uncertainty.prefilter import superset

_CASE_FLAGS = re.IGNORECASE | re.ASCII | re.LOCALE
_REPEATS = (_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT)
_ZERO_WIDTH = (_sre.AT, _sre.ASSERT, _sre.ASSERT_NOT)

Entry = tuple[re.Pattern[str], frozenset[str] | None]  # an entry's pattern, the characters it may start with


def required(part: str, flags: int = 0) -> frozenset[str] | None:
    """Strings one of which every match of `part` contains (None: not known)."""
    try:
        tree = _sre_parse.parse(part, flags)
    except re.error:
        return None
    if tree.state.flags & _CASE_FLAGS:
        return None
    return _best(_sequence(list(tree)))


def _sequence(items: list[Any]) -> list[frozenset[str]]:
    """The sets one of whose strings each match of the sequence `items` contains (each set will do)."""
    found: list[frozenset[str]] = []
    run = ""  # consecutive literal characters
    for op, av in items:
        if op is _sre.LITERAL:
            run += chr(av)
            continue
        if run:
            found.append(frozenset((run,)))
            run = ""
        if op in _ZERO_WIDTH:
            continue  # (matches no character: what it looks at need not be in the match)
        got = _node(op, av)
        if got is not None:
            found.append(got)
    if run:
        found.append(frozenset((run,)))
    return found


def _best(sets: list[frozenset[str]]) -> frozenset[str] | None:
    """The set whose shortest string is longest (the rarest to occur), then the smallest."""
    return max(sets, key=lambda s: (min(map(len, s)), -len(s)), default=None)


def _node(op: Any, av: Any) -> frozenset[str] | None:
    if op is _sre.SUBPATTERN:
        _, add_flags, _, body = av
        return None if add_flags & _CASE_FLAGS else _best(_sequence(list(body)))
    if op is _sre.BRANCH:
        out: set[str] = set()
        for branch in av[1]:
            got = _best(_sequence(list(branch)))
            if got is None:
                return None  # a branch without a known string
            out |= got
        return frozenset(out)
    if op in _REPEATS:
        low, _, body = av
        return _best(_sequence(list(body))) if low >= 1 else None
    if op is _sre.IN:
        chars: set[str] = set()
        for o, a in av:
            if o is _sre.LITERAL:
                chars.add(chr(a))
            elif o is _sre.RANGE and a[1] - a[0] < 16:
                chars.update(chr(c) for c in range(a[0], a[1] + 1))
            else:
                return None  # (a negated class, `\w`, a wide range)
        return frozenset(chars) or None
    return None


class Alternatives:
    """One section's entries, each compiled alone, in the order its whole pattern tries them."""

    def __init__(self, ordered: list[tuple[str, str | None]], flags: int) -> None:
        """`ordered`: (entry, the characters cues.py grouped it under or None), in the compiled order."""
        self.entries: list[Entry] = [
            (re.compile(WRAP.format(p), flags), frozenset(c) if c else None) for p, c in ordered
        ]
        self.needs = [required(p, flags) for p, _ in ordered]  # None: kept whatever the view holds
        # each entry's gate (prefilter.py; None: none): the entry is kept only in a view one of them matches in
        self.gates = [superset(p, flags) for p, _ in ordered]
        self._ungated = sum(1 << i for i, gate in enumerate(self.gates) if gate is None)
        self.strings = frozenset().union(*(n for n in self.needs if n is not None))
        # entries as bits (bit i: entry i): those kept whatever the view holds, those each string keeps
        self._always = sum(1 << i for i, need in enumerate(self.needs) if need is None)
        self._keeps: dict[str, int] = {}
        for i, need in enumerate(self.needs):
            for string in need or ():
                self._keeps[string] = self._keeps.get(string, 0) | 1 << i

    def kept(self, present: Iterable[str] | None, opened: Iterable[int] | None = None) -> list[Entry]:
        """The entries a view holding the `present` strings (None: not asked) may match, in order; with
        `opened`, only those of them whose gate matches in the view (these entry numbers) or that have none."""
        return self.entries_of(self.kept_bits(present, opened))

    def entries_of(self, bits: int) -> list[Entry]:
        """The entries whose bits are set (bit i: entry i), in order."""
        out = []
        while bits:
            low = bits & -bits
            out.append(self.entries[low.bit_length() - 1])
            bits ^= low
        return out

    def kept_bits(self, present: Iterable[str] | None, opened: Iterable[int] | None = None) -> int:
        """`kept` as bits (bit i: entry i)."""
        bits, keeps = self._always, self._keeps
        if present is None:
            bits = (1 << len(self.entries)) - 1
        else:
            for string in present:
                bits |= keeps.get(string, 0)
        if opened is not None:
            allowed = self._ungated
            for i in opened:
                allowed |= 1 << i
            bits &= allowed
        return bits


def match(kept: list[Entry], text: str, p: int, endpos: int) -> re.Match[str] | None:
    """What the section's whole pattern matches at `p` (see the module docstring)."""
    c = text[p]
    for rx, chars in kept:
        if chars is None or c in chars:
            m = rx.match(text, p, endpos)
            if m is not None:
                return m
    return None


def any_of(parts: list[str], flags: int) -> re.Pattern[str] | None:
    """A pattern with a match in a string where one of `parts` (each WRAP-ped, as cues.compile_list does) has
    one, for asking only whether there is one (not which, nor where: the order is not the list's). The
    entries that begin with a plain letter are grouped under it ("harm\\w*", "hurt\\w*": "h(?:arm\\w*|urt\\w*)"),
    so at a word the engine tests each first letter once, not each entry: the refusal reasons' 77 keywords,
    searched in a sentence, 3.9 us against 7.4 for their two lists one by one. None where an entry refers to a
    group (numbers and names change when entries are joined), the joined pattern does not compile or there
    is no entry."""
    if not parts or any(re.search(r"\\[1-9]|\(\?P=", p) for p in parts):
        return None
    groups: dict[str, list[str]] = {}
    rest: list[str] = []
    for part in parts:
        # Each entry as the alternatives it tries ("(?:dis|mis)information": "disinformation",
        # "misinformation"), which match the strings it matches. (Not known: the entry whole.) The reasons'
        # 14 entries that begin with a group were tried one after another at every word of a sentence:
        # 125 M of the 2,668 M instructions of a read-once pass, 64 M with them grouped.
        alts = alternatives_of(part)
        for p in alts or [part]:
            # (a letter that a quantifier does not follow, in an alternative with no "|" outside a group,
            # begins each of its matches)
            if (
                p[:1].isascii()
                and p[:1].isalpha()
                and p[1:2] not in ("*", "+", "?", "{")
                and (alts is not None or "|" not in p)
            ):
                groups.setdefault(p[0], []).append(p[1:])
            else:
                rest.append(p)
    body = [f"{c}(?:" + "|".join(f"(?:{tail})" for tail in tails) + ")" for c, tails in groups.items()]
    try:
        return re.compile(WRAP.format("|".join(body + [f"(?:{p})" for p in rest])), flags)
    except re.error:
        return None


class Present:
    """Which of a fixed set of strings occur in a view, by `str.find`: where no Hyperscan pass finds them
    (without the package; with it, the start index's pass reports them: literals.LiteralScan)."""

    def __init__(self, strings: Iterable[str]) -> None:
        self.strings = sorted(set(strings))

    def __call__(self, view: str) -> set[str]:
        return {s for s in self.strings if s in view}
