"""A keyword list compiled with its entries under the characters they begin with, in the list's order.

Why: refusals._most_named counts each refusal category's matches (`findall`) around a refusal and, where
none is named there, in the whole answer. Compiled as a plain join (cues.compile_list), a category's ~40
entries are tried one after another at every word start: on the 585 scopes 3,000 distinct answers asked
about (176 KB), the four categories took 49-53 ms, the word-start test alone (their look-behind) 23 ms.
Under their first characters: 31-38 ms.

What: `by_first(parts, flags)` splits each entry into the alternatives it tries, in its order (a top-level
"|", a leading group `(?:a|b)rest` as `arest|brest`), and joins them under their first character:
`(?<!\\w)(?:h(?:(?:arm\\w*)|(?:urt\\w*))|d(?:...))(?:(?<!\\w)|(?!\\w))`. At a position the engine tests each
first character once and then tries, in the list's order, only the alternatives that begin with the one
there: those it skips cannot match there, so the first alternative that matches with what follows is the
one the plain join finds, and `findall`/`finditer` give the same matches. The plain join is returned
where an alternative does not begin with one plain character or the list has a group (numbers would move).
tests/validators/uncertainty/test_firsts.py compares both on real and generated text.
"""

from __future__ import annotations

import re

WRAP = r"(?<!\w)(?:{})(?:(?<!\w)|(?!\w))"  # the word boundaries cues.compile_list puts around a section

_SPECIAL = frozenset("\\[](){}.*+?^$|")
_QUANTIFIERS = ("*", "+", "?", "{")


def by_first(parts: list[str], flags: int) -> re.Pattern[str] | None:
    """`parts` joined as cues.compile_list joins them, the same matches found faster (None: no part)."""
    if not parts:
        return None
    plain = WRAP.format("|".join(f"(?:{p})" for p in parts))
    # (each part was compiled so by cues._parts: from re's cache)
    if flags & (re.IGNORECASE | re.VERBOSE) or any(re.compile(f"(?:{p})", flags).groups for p in parts):
        return re.compile(plain, flags)
    groups: dict[str, list[str]] = {}
    for part in parts:
        alts = alternatives_of(part)
        if alts is None or any(not a or a[0] in _SPECIAL or a[1:2] in _QUANTIFIERS for a in alts):
            return re.compile(plain, flags)
        for alt in alts:
            groups.setdefault(alt[0], []).append(alt[1:])
    body = "|".join(re.escape(c) + "(?:" + "|".join(f"(?:{t})" for t in tails) + ")" for c, tails in groups.items())
    return re.compile(WRAP.format(body), flags)


def alternatives_of(pattern: str) -> list[str] | None:
    """The alternatives `pattern` tries, in its order, a leading group's distributed (None: not known);
    none has a "|" outside a group."""
    out: list[str] = []
    for alt in top_level(pattern) or []:
        if not alt.startswith("(?:"):
            out.append(alt)
            continue
        end = _closing(alt)
        if end < 0 or alt[end + 1 : end + 2] in _QUANTIFIERS:
            return None
        for inner in top_level(alt[3:end]) or []:
            got = alternatives_of(inner + alt[end + 1 :])
            if got is None:
                return None
            out += got
    return out or None


def _tokens(pattern: str) -> list[tuple[int, str]]:
    """The positions and characters of `pattern` outside escapes and character classes."""
    out: list[tuple[int, str]] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":  # a class: to its closing "]" (one right after "[" or "[^" is a member)
            j = i + 2 if pattern.startswith("[^", i) else i + 1
            j += pattern[j : j + 1] == "]"
            while j < len(pattern) and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            i = j + 1
            continue
        out.append((i, c))
        i += 1
    return out


def top_level(pattern: str) -> list[str] | None:
    """`pattern` split at its top-level "|" (None: its parentheses do not balance)."""
    pieces: list[str] = []
    depth = start = 0
    for i, c in _tokens(pattern):
        depth += (c == "(") - (c == ")")
        if depth < 0:
            return None
        if c == "|" and depth == 0:
            pieces.append(pattern[start:i])
            start = i + 1
    pieces.append(pattern[start:])
    return pieces if depth == 0 else None


def _closing(pattern: str) -> int:
    """Where the ")" closing the "(" `pattern` begins with is (-1: none)."""
    depth = 0
    for i, c in _tokens(pattern):
        depth += (c == "(") - (c == ")")
        if depth == 0:
            return i
    return -1
