"""What a match of a pattern can begin with, read from its parse tree: a test that skips a `match` call.

Why: refusals._Asides matches three lists (offers, support pointers, alternatives) at the start of every
sentence of a refused answer. A `match` that fails still costs the call and a walk of the list's
branches (~3-6 k instructions each on the benchmark pass), and most sentences begin with words none of
the list's entries begins with; testing the sentence's first characters first skips the call.

What: `openers(rx)` is an `Openers` holding, for each first character, the strings of up to `SPAN`
characters a match of `rx` can begin with (every match begins with one of them; more are allowed, as
zero-width assertions are not read), or None where that is not known (a class such as `\\w` or `[^.]`,
a back-reference, a flag that folds case, too many strings) or the pattern can match the empty string.
tests/validators/uncertainty/test_openers.py checks it against `match` on real and generated text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from re import _constants as _sre  # type: ignore[attr-defined]  # private (not in typeshed)
from re import _parser as _sre_parse  # type: ignore[attr-defined]  # private (not in typeshed)
from typing import Any

SPAN = 8  # characters of a match's beginning spelled out
_MOST = 2000  # heads a part may have before it is taken as not known
_WIDE = 64  # a range wider than this is not spelled out
_ZERO_WIDTH = (_sre.AT, _sre.ASSERT, _sre.ASSERT_NOT)
_REPEATS = tuple(
    op for op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, getattr(_sre, "POSSESSIVE_REPEAT", None)) if op is not None
)

# A part's matches cut to SPAN characters: (head, done). Not done: the whole match; done: the match begins
# with the head and what follows it is not spelled out (SPAN characters reached, or a part not known).
_Heads = frozenset[tuple[str, bool]]
_UNKNOWN: _Heads = frozenset((("", True),))  # (any match, the empty one too)
_EMPTY: _Heads = frozenset((("", False),))


class Openers:
    """The beginnings of a pattern's matches, by first character."""

    __slots__ = ("_by_first",)

    def __init__(self, heads: Iterable[str]) -> None:
        by_first: dict[str, list[str]] = {}
        for head in sorted(heads):
            by_first.setdefault(head[0], []).append(head)
        self._by_first = {c: tuple(group) for c, group in by_first.items()}

    def may_match(self, text: str) -> bool:
        """Can a match of the pattern at the start of `text` begin there? (False: `match` returns None.)"""
        heads = self._by_first.get(text[:1])
        return heads is not None and text.startswith(heads)


def openers(rx: object) -> Openers | None:
    """The beginnings of `rx`'s matches (None: not a compiled pattern, or one whose matches may begin with
    anything, the empty match included)."""
    if not isinstance(rx, re.Pattern):
        return None
    return _openers(rx.pattern, rx.flags)


@lru_cache(maxsize=64)
def _openers(pattern: str, flags: int) -> Openers | None:
    if flags & (re.IGNORECASE | re.VERBOSE):
        return None
    try:
        tree = _sre_parse.parse(pattern, flags)
    except re.error:
        return None
    heads = _sequence(list(tree))
    return None if any(not head for head, _ in heads) else Openers(head for head, _ in heads)


def _joined(left: _Heads, right: _Heads) -> _Heads:
    """The heads of a match of one part followed by one of another."""
    out: set[tuple[str, bool]] = set()
    for a, done in left:
        if done:
            out.add((a, True))
            continue
        for b, then in right:
            joined = a + b
            out.add((joined[:SPAN], True) if len(joined) >= SPAN else (joined, then))
    return frozenset(out) if len(out) <= _MOST else _UNKNOWN


def _sequence(items: list[tuple[Any, Any]]) -> _Heads:
    heads = _EMPTY
    for op, av in items:
        if all(done for _, done in heads):
            break  # (what follows changes no head)
        heads = _joined(heads, _node(op, av))
    return heads


def _node(op: Any, av: Any) -> _Heads:
    if op in _ZERO_WIDTH:
        return _EMPTY
    if op is _sre.LITERAL:
        return frozenset(((chr(av), False),))
    if op is _sre.IN:
        return _class(av)
    if op is _sre.SUBPATTERN:
        _, add_flags, _, body = av
        return _UNKNOWN if add_flags & re.IGNORECASE else _sequence(list(body))
    if op is getattr(_sre, "ATOMIC_GROUP", None):
        return _sequence(list(av))
    if op is _sre.BRANCH:
        out: set[tuple[str, bool]] = set()
        for branch in av[1]:
            out |= _sequence(list(branch))
        return frozenset(out) if len(out) <= _MOST else _UNKNOWN
    if op in _REPEATS:
        return _repeat(*av)
    return _UNKNOWN  # (any character, a negated literal, a back-reference, ...)


def _repeat(low: int, high: int, body: Any) -> _Heads:
    """The heads of `body` repeated `low` to `high` times (a repeat past `low` + SPAN adds none)."""
    one = _sequence(list(body))
    heads = _EMPTY
    out: set[tuple[str, bool]] = set()
    for n in range(min(high, low + SPAN) + 1):
        if n >= low:
            out |= heads
        heads = _joined(heads, one)
    return frozenset(out) if len(out) <= _MOST else _UNKNOWN


def _class(items: list[tuple[Any, Any]]) -> _Heads:
    chars: set[str] = set()
    for op, av in items:
        if op is _sre.LITERAL:
            chars.add(chr(av))
        elif op is _sre.RANGE and av[1] - av[0] <= _WIDE:
            chars.update(chr(c) for c in range(av[0], av[1] + 1))
        else:
            return _UNKNOWN  # (a negated class, a category such as `\w`, a wide range)
    return frozenset((c, False) for c in chars)
