"""`rx.sub` for a pattern that can match only at a few known places of a text (the characters its
alternatives start with): `rx.match` is tried there alone, instead of Python's `re` trying every
position of the text (a pattern with look-behinds or `^` up front has no fast skip). Leftmost first,
going on after each match, as `sub` does; the patterns given here never match the empty string."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable


def positions(text: str, chars: str) -> list[int]:
    """Offsets of every occurrence of each of `chars` in `text` (unsorted)."""
    out: list[int] = []
    for c in chars:
        i = text.find(c)
        while i >= 0:
            out.append(i)
            i = text.find(c, i + 1)
    return out


def sub_at(rx: re.Pattern[str], text: str, starts: Iterable[int], repl: Callable[[re.Match[str]], str]) -> str:
    """`rx.sub(repl, text)`, given that every match of `rx` in `text` starts at one of `starts`."""
    pieces: list[str] = []
    last = 0
    for p in sorted(set(starts)):
        if p < last:
            continue  # inside the last match
        m = rx.match(text, p)
        if m is not None:
            pieces += (text[last:p], repl(m))
            last = m.end()
    if not pieces:
        return text
    pieces.append(text[last:])
    return "".join(pieces)


def quote_starts(text: str) -> list[int]:
    """Where a match of text._QUOTES may start (unsorted): every '"', "\u201c" and "\u2018", and each "'"
    that follows no word character and no "'" (its `'(?<![\\w']')`; `\\w` is what `str.isalnum` and "_"
    match), or the text's start. The engine's scan tried each character against the four (~45,000
    instructions on a distinct ~1 KB answer); here a few `str.find` in C, one Python step per "'"."""
    out = positions(text, '"' if text.isascii() else '"\u201c\u2018')
    i = text.find("'")
    while i >= 0:
        c = text[i - 1] if i else ""
        if not (c.isalnum() or c == "_" or c == "'"):
            out.append(i)
        i = text.find("'", i + 1)
    return out
