"""Stand-ins for the non-ASCII characters of a view, so the RE2 prefilter can read it too.

Why: the prefilter (prefilter.py) read only ASCII text, as Python's `\\w`, `\\d` and `\\s` know Unicode
and RE2's do not. One em dash was enough to lose it: most answers hold one, and they cost ~2.5x what
ASCII ones cost (0.98 vs 0.37 ms p50 on the dev set's 5-answer texts).

What: a character that none of Python's `\\w`, `\\d`, `\\s` matches and that has no other case (an em
dash, a degree sign, an arrow) stands as itself: RE2 reads the text as UTF-8, its literals, ranges,
negated classes, `.` and `\\W` treat that code point as Python's do (prefilter.Windowed maps RE2's byte
offsets back to characters). Any other character `c` (a letter, a digit, a blank) may stand as an
ASCII character `s` when every one-character item of the prefiltered patterns that matches `c` (a
literal, a class, `.`, under the flags in force there) matches `s` too. The relaxed patterns (all
zero-width assertions removed) are then read over text in which they can only match more than over
the original: wherever a pattern could match the original, its relaxed form matches the read text at
the same characters, so the prefilter's `possible` sections and windows stay supersets, and the Python scans (on the original
text) find exactly what they found. Each item is tested with Python's own `re` (the flags included),
on the character and on its candidate stand-in; a pattern with anything else in it (a backreference, a
conditional group) allows no stand-ins at all. What each character stands as is remembered (a bounded
table); a text with a character without a stand-in is not prefiltered, as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from re import _compiler as _sre_compile  # type: ignore[attr-defined]  # private (not in typeshed)
from re import _constants as _sre  # type: ignore[attr-defined]  # private (not in typeshed)
from re import _parser as _sre_parse  # type: ignore[attr-defined]  # private (not in typeshed)
from typing import Any

from llmvet.validators.uncertainty.covers import parsed

# Tried in order: symbols and punctuation, letters, digits, blanks. None is one of the characters that
# Python's \s matches and RE2's does not (prefilter._PYTHON_ONLY_SPACE), nor a newline.
CANDIDATES = ("\x01", "_", "z", "0", " ")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_SAME_FOR_RE2 = re.compile(r"[\w\s]")  # (\d is in \w) what RE2 matches for ASCII only; the rest it reads alike
_MAX_MEMO = 4096  # characters remembered (no text can grow the table without bound)
_MAX_NEW = 64  # characters worked out for one text; a text with more unseen ones is not prefiltered
_ONE_CHARACTER = frozenset({_sre.LITERAL, _sre.NOT_LITERAL, _sre.IN, _sre.ANY})
_REPEATS = frozenset({_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT})
_UNKNOWN = "unknown"  # (not a character: never a stand-in)


class _Unsupported(Exception):
    pass


class StandIns:
    """Stand-ins for the patterns of one prefilter; the items are read on first use (start-up stays as
    it was for processes that only see ASCII text)."""

    def __init__(self, patterns: Iterable[re.Pattern[str]]) -> None:
        self._patterns = list(patterns)
        self._tests: list[Callable[[str], Any]] | None = None  # one per distinct item; [] when none allowed
        self._allowed = True
        self._memo: dict[str, str | None] = {}

    def readable(self, text: str) -> str | None:
        """`text` with each non-ASCII character replaced by its stand-in (same length), or None when one
        of them has none. A symbol or punctuation mark stands as itself (see `_work_out`)."""
        memo, stand_in, worked_out = self._memo, {}, 0
        for c in set(_NON_ASCII.findall(text)):
            s = memo.get(c, _UNKNOWN)
            if s is _UNKNOWN:
                if worked_out == _MAX_NEW:
                    return None
                s, worked_out = self._work_out(c), worked_out + 1
                if len(memo) < _MAX_MEMO:
                    memo[c] = s
            if s is None:
                return None
            stand_in[c] = s
        for c, s in stand_in.items():
            text = text.replace(c, s)
        return text

    def _work_out(self, c: str) -> str | None:
        if "\ud800" <= c <= "\udfff":
            return None  # a lone surrogate (no UTF-8 for RE2)
        if _SAME_FOR_RE2.match(c) is None and c.lower() == c == c.upper() == c.casefold():
            return c  # no \w, \d or \s, no case: RE2 reads the code point (UTF-8) exactly as Python does
        tests = self._items()
        if not self._allowed:
            return None
        matched = [t for t in tests if t(c)]
        return next((s for s in CANDIDATES if all(t(s) for t in matched)), None)

    def _items(self) -> list[Callable[[str], Any]]:
        if self._tests is None:
            tests: dict[tuple[str, int], Callable[[str], Any]] = {}
            try:
                for rx in self._patterns:
                    tree = parsed(rx.pattern, rx.flags)  # (shared with covers.py: parsed once at load)
                    for item, flags in _one_character_items(tree, tree.state.flags):
                        key = (repr(item), flags)
                        if key not in tests:
                            sub = _sre_parse.SubPattern(_sre_parse.State(), [item])
                            sub.state.flags = flags
                            tests[key] = _sre_compile.compile(sub, flags).fullmatch
            except (_Unsupported, re.error, TypeError, ValueError):
                self._allowed = False
            self._tests = list(tests.values())
        return self._tests


def _one_character_items(items: Any, flags: int) -> Iterator[tuple[Any, int]]:
    """Every item of a parse tree that matches one character, with the flags in force where it stands."""
    for op, av in items:
        if op in _ONE_CHARACTER:
            yield (op, av), flags
        elif op in _REPEATS:
            yield from _one_character_items(av[2], flags)
        elif op is _sre.SUBPATTERN:
            _group, add, remove, sub = av
            yield from _one_character_items(sub, (flags | add) & ~remove)
        elif op is _sre.BRANCH:
            for alternative in av[1]:
                yield from _one_character_items(alternative, flags)
        elif op in (_sre.ASSERT, _sre.ASSERT_NOT):
            yield from _one_character_items(av[1], flags)
        elif op is _sre.ATOMIC_GROUP:
            yield from _one_character_items(av, flags)
        elif op is not _sre.AT:
            raise _Unsupported(op)
