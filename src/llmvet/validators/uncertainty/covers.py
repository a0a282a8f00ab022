"""The start of a cue pattern, from its parse tree (`re._parser`, as cues.py already reads it): exact.

- `cover(rx, key)`: a set of short literal strings (up to `key` characters: starts.py uses LONG) such
  that every match of the pattern begins with one of them. Longer strings tell more starts apart ("the
  exact" from "the"); so that a repeated class (`[ \\t>#-]*`) does not spell out every mix of its
  characters, a string KEY long ends where a repetition or a too-large set would grow it. Zero-width assertions are skipped (so the cover only grows), a
  character class of a few listed characters is spelt out, and an open one (`.`, a negated class) ends
  the string there (a shorter string covers more). A class with `\\d` or `\\w` is a *marker* instead:
  "a digit" / "a word" starts here, tagged with what else every match through it must have (a literal
  it contains, what stands before it, the non-word characters it begins with), so starts.py can find
  those starts from the view's words. A pattern that can match the empty string, or whose first
  character is open otherwise, has no cover and is scanned as before.
- `after_nonword(rx)`: can a match start only after a non-word character (the string's start, a line
  start, `(?<!\\w)`, or a look-behind that ends in a non-word character)? Look-behinds and `^` see the
  whole string whatever `pos` a search starts from, so this holds for ranged searches too.

Flags that change what a literal or `\\w` matches (IGNORECASE, ASCII, LOCALE) are not supported: such
a pattern has no cover.
"""

from __future__ import annotations

import re
from functools import lru_cache
from re import _constants as _sre  # type: ignore[attr-defined]  # private (not in typeshed)
from re import _parser as _sre_parse  # type: ignore[attr-defined]  # private (not in typeshed)
from typing import Any

KEY = 3  # characters of a start looked up in the table
LONG = 6  # characters of a start a pattern's own starts are checked against (see starts.Starts)
MAX_KEY = 8
_MAX_COVER = 4000  # strings in a cover beyond which the pattern is scanned as before
_MAX_LONG_COVER = 40000  # (for a LONG cover, which is only a finer check)
_MAX_CLASS = 64  # characters of a class spelt out in a cover
_UNSUPPORTED_FLAGS = re.IGNORECASE | re.ASCII | re.LOCALE
_ZERO_WIDTH = frozenset({_sre.AT, _sre.ASSERT, _sre.ASSERT_NOT})
_REPEATS = frozenset({_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT})

# A class with `\\d` or `\\w` in it is open, but as a pattern's first character it can be told from the
# character at a start: these markers (never a text's key: longer than MAX_KEY) stand for "a digit", "any".
DIGIT, WORD = "\\d" * MAX_KEY, "\\w" * MAX_KEY
_CATEGORY_MARKS = {_sre.CATEGORY_DIGIT: DIGIT, _sre.CATEGORY_WORD: WORD}
MARKERS = frozenset(_CATEGORY_MARKS.values())
# A marker carries what else is known of a match through it, as fields after _TAG: a literal the match
# contains, the strings (joined by _OR) one of which stands just before the match, and the non-word
# characters the match begins with before the digit or word ("lead": "- " in "- 90% sure").
_TAG, OR = "\x00", "\x01"


def _marker(kind: str, literal: str = "", behind: str = "", lead: str = "") -> str:
    return _TAG.join((kind, literal, behind, lead))


def fields(marker: str) -> tuple[str, str, str, str]:
    kind, literal, behind, lead = (marker.split(_TAG) + ["", "", ""])[:4]
    return kind, literal, behind, lead


Prefixes = set[tuple[str, bool]]
# (string, closed): closed once KEY long or ended by an open class


def is_word(c: str) -> bool:
    """What `\\w` matches in a str pattern (Unicode alphanumerics and the underscore)."""
    return c.isalnum() or c == "_"


def _class_chars(items: list[tuple[Any, Any]], markers: list[str] | None = None) -> list[str] | None:
    """The characters a class lists, or None; with `markers`, `\\d` and `\\w` in it are added there."""
    out: list[str] = []
    for op, av in items:
        if op is _sre.LITERAL:
            out.append(chr(av))
        elif op is _sre.RANGE and av[1] - av[0] < _MAX_CLASS:
            out += [chr(c) for c in range(av[0], av[1] + 1)]
        elif op is _sre.CATEGORY and av in _CATEGORY_MARKS and markers is not None:
            markers.append(_CATEGORY_MARKS[av])
        else:
            return None  # a negation, another category, a wide range
    return out if len(out) <= _MAX_CLASS else None


def _join(heads: Prefixes, tails: Prefixes, key: int) -> Prefixes:
    try:
        return _joined(heads, tails, key, key)
    except OverflowError:
        if key <= KEY:
            raise
        return _joined(heads, tails, key, KEY)  # too many long strings: those KEY long end there


def _joined(heads: Prefixes, tails: Prefixes, key: int, grow: int) -> Prefixes:
    """Each head followed by each tail (cut at `key`); heads `grow` long or more are closed as they are."""
    out: Prefixes = set()
    for s, closed in heads:
        if closed or len(s) >= grow:
            out.add((s, True))
            continue
        for t, t_closed in tails:
            if len(t) > MAX_KEY:  # a marker
                kind, literal, behind, lead = fields(t)
                if len(s) >= KEY or any(is_word(c) for c in s):
                    # after word characters (or KEY of any) the string ends here, with the non-word
                    # characters every match through the marker begins with ("i" then " [\\w'-]+": "i ",
                    # not "i", which begins "it", "is", "in"; "the " not "the", which begins "they")
                    out.add(((s + lead)[:key], True))
                else:  # after non-word ones, the digit or word starts a `\\w+` run: found from there
                    out.add((_marker(kind, literal, behind, s + lead), True))
                continue
            joined = s + t
            out.add((joined[:key], t_closed or len(joined) >= key))
        if len(out) > (_MAX_COVER if key <= KEY else _MAX_LONG_COVER):
            raise OverflowError
    return out


def _item(op: Any, av: Any, key: int) -> Prefixes:
    if op in _ZERO_WIDTH:
        return {("", False)}
    if op is _sre.LITERAL:
        return {(chr(av), False)}
    if op is _sre.IN:
        markers: list[str] = []
        chars = _class_chars(av, markers)
        if chars is None:
            return {("", True)}
        return {(c, False) for c in chars} | {(m, True) for m in markers}
    if op is _sre.SUBPATTERN:
        return {("", True)} if av[1] & _UNSUPPORTED_FLAGS else _sequence(av[3], key)  # (?i:...): open
    if op is _sre.ATOMIC_GROUP:
        return _sequence(av, key)
    if op is _sre.BRANCH:
        out: Prefixes = set()
        for alt in av[1]:
            out |= _sequence(alt, key)
        return out
    if op in _REPEATS:
        return _repeat(av[0], av[1], av[2], key)
    return {("", True)}  # any character, a category, a backreference: open


def _repeat(low: int, high: int, sub: Any, key: int) -> Prefixes:
    one = _sequence(sub, key)
    out: Prefixes = {("", False)} if low == 0 else set()
    current: Prefixes = {("", False)}
    for n in range(1, min(high, low + key + 1) + 1):
        # (a repeated class, "[ \t>#-]*", would spell out every mix of its characters: after the first
        # time round, strings KEY long end there)
        current = _join(current, one, key) if n == 1 else _joined(current, one, key, KEY)
        if n >= low or all(closed for _, closed in current):
            out |= current  # (closed strings stay as they are however often the group repeats)
        if all(closed for _, closed in current):
            break
    return out


def _sequence(items: Any, key: int) -> Prefixes:
    out: Prefixes = {("", False)}
    for i, (op, av) in enumerate(items):
        before = out
        out = _join(out, _item(op, av, key), key)
        fresh = [s for s, _ in out if len(s) > MAX_KEY and (s, True) not in before]
        if fresh:  # a marker from this item: what must come before and after it makes it conditional
            after, behind = _literal_run(items[i + 1 :]), _behind(items[:i])
            out = (out - {(s, True) for s in fresh}) | {(_tagged(s, after, behind), True) for s in fresh}
        if all(closed for _, closed in out):
            break
    return out


def _tagged(marker: str, literal: str, behind: tuple[str, ...] | None) -> str:
    """The marker, tagged with a literal every match through it contains (the longer one is kept) and
    the strings one of which must stand just before its start (kept once known; only without a lead)."""
    kind, known, known_behind, lead = fields(marker)
    if not known_behind and behind is not None and not lead:
        known_behind = OR.join(behind)
    return _marker(kind, max(known, literal, key=len), known_behind, lead)


def _behind(items: Any) -> tuple[str, ...] | None:
    """Strings one of which ends just before where the zero-width assertions ending `items` hold."""
    for op, av in reversed(items):
        if op is _sre.ASSERT and av[0] < 0:
            return _suffixes(av[1])
        if op is _sre.BRANCH:
            found = [_behind(alt) for alt in av[1]]
            if not all(found):
                return None
            return tuple(sorted({s for f in found if f for s in f}))
        if op not in _ZERO_WIDTH:
            return None
    return None


def _suffixes(items: Any) -> tuple[str, ...] | None:
    """The last (up to) two characters of every string a look-behind of listed characters matches."""
    out = [""]
    for op, av in list(items)[-2:][::-1]:
        chars = [chr(av)] if op is _sre.LITERAL else _class_chars(av) if op is _sre.IN else None
        if not chars:
            break
        out = [c + s for c in chars for s in out]
    return tuple(sorted(out)) if out != [""] else None


def _literal_run(items: Any) -> str:
    """The longest run of literal characters in a sequence (each match of it contains them)."""
    best = run = ""
    for op, av in items:
        run = run + chr(av) if op is _sre.LITERAL else ""
        best = max(best, run, key=len)
    return best


def cover(rx: re.Pattern[str], key: int = KEY) -> frozenset[str] | None:
    """Strings one of which begins every match of `rx`, or None (see the module docstring)."""
    if rx.flags & _UNSUPPORTED_FLAGS or not isinstance(rx.pattern, str):
        return None
    try:
        found = _sequence(parsed(rx.pattern, rx.flags), key)
    except (OverflowError, RecursionError):
        return None
    strings = frozenset(s for s, _ in found)
    return None if "" in strings else strings


def _ends_nonword(items: Any) -> bool:
    """Does every string the (look-behind) sequence matches end in a non-word character?"""
    if not items:
        return False
    op, av = items[-1]
    if op is _sre.LITERAL:
        return not is_word(chr(av))
    if op is _sre.IN:
        chars = _class_chars(av)
        return chars is not None and not any(is_word(c) for c in chars)
    if op is _sre.SUBPATTERN:
        return _ends_nonword(av[3])
    if op is _sre.BRANCH:
        return all(_ends_nonword(alt) for alt in av[1])
    return False


def _after_nonword(items: Any) -> bool:
    """Can a match of the sequence start only at the string's start or after a non-word character?"""
    for op, av in items:
        if op is _sre.AT:
            if av in (_sre.AT_BEGINNING, _sre.AT_BEGINNING_STRING):
                return True  # (a line start: after "\n"; `^` sees the real start, whatever `pos` is)
            continue
        if op is _sre.ASSERT_NOT and av[0] < 0:
            sub = av[1]
            if len(sub) == 1 and sub[0][0] is _sre.IN and (_sre.CATEGORY, _sre.CATEGORY_WORD) in sub[0][1]:
                return True  # (?<!\w), (?<![\w'-])
            continue
        if op is _sre.ASSERT and av[0] < 0:
            if _ends_nonword(av[1]):
                return True  # (?<=[.!?] ), (?<= but )
            continue
        if op in _ZERO_WIDTH:
            continue
        if op is _sre.SUBPATTERN:
            return not av[1] & _UNSUPPORTED_FLAGS and _after_nonword(av[3])
        if op is _sre.BRANCH:
            return all(_after_nonword(alt) for alt in av[1])
        return False
    return False


def after_nonword(rx: re.Pattern[str]) -> bool:
    if rx.flags & _UNSUPPORTED_FLAGS:
        return False
    return _after_nonword(parsed(rx.pattern, rx.flags))


@lru_cache(maxsize=64)
def parsed(pattern: str, flags: int) -> Any:
    """The parse tree (read only: parsed once for `cover` and `after_nonword`)."""
    return _sre_parse.parse(pattern, flags)
