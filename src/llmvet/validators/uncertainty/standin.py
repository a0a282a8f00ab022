"""An ASCII stand-in for an answer with other characters, for building its views (text.build_views).

One em dash makes a ~1 KB answer a two-byte string, and every step building its views dearer: the regex
engine reads two bytes a character, `lower` goes through UTF-8 and `encode` through its error handler
(on the benchmark pass, build_views took 466 M instructions on the answers, 386 M on ASCII copies).
So the views are built on a copy of the same length in which each other character is "\\x01", and the
characters a view kept are put back at the end (building a view only ever turns a character into a
blank, in place, and squeezing removes blanks only).

"\\x01" is what no view pattern names, no word character (`\\w`, `str.isalnum`), no blank or line break
(`\\s`, `str.isspace`, `splitlines`), without case (`lower`, `re.I`). So it stands in for a character
that is none of those either, nor one of the curly quotes `_QUOTES` names: dashes, arrows, symbols,
emoji. An answer with any other (an accented letter, a curly quote, a blank other than ASCII) or with a
"\\x01" of its own has no stand-in: its views are built from its text.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import chain

MARK = "\x01"
MARK_BYTE = MARK.encode("ascii")
_DENSEST = 16  # at most one other character in this many (so far, past the first _SLACK) for a stand-in
_SLACK = 64
_QUESTION = ord("?")  # what `encode("ascii", "replace")` leaves for each other character
_QUOTES = "\u201c\u201d\u2018\u2019"  # the curly quotes text._QUOTES names (the last one normalised before)


@dataclass(slots=True)
class StandIn:
    text: str  # ASCII, the same length as the answer, MARK for each other character
    places: list[int]  # offsets of those characters, in order
    chars: list[str]  # the characters
    same: bool  # all of them the same character

    def put_back(self, view: str, squeezed: str) -> str:
        """`squeezed`, `view` (built from `text`) with its blanks squeezed, with the characters `view`
        kept in place of their MARK."""
        if self.same or MARK not in squeezed:
            return squeezed.replace(MARK, self.chars[0])
        kept = [c for p, c in zip(self.places, self.chars, strict=True) if view[p] != " "]
        pieces = squeezed.split(MARK)  # (one more than `kept`)
        return "".join(chain.from_iterable(zip(pieces, [*kept, ""], strict=True)))


def stand_in(text: str) -> StandIn | None:
    """The stand-in for `text`, a string with a character other than ASCII (None: it has none)."""
    data = text.encode("ascii", "replace")  # (each other character one "?")
    if MARK_BYTE in data:
        return None
    places: list[int] = []
    chars: list[str] = []
    own = 0  # question marks of its own
    i = data.find(_QUESTION)
    while i >= 0:
        c = text[i]
        if c == "?":
            own += 1
        elif _stands_in(c):
            places.append(i)
            chars.append(c)
            # (each costs a find and a check: text dense with them, emoji or symbols, costs more than the
            # stand-in saves, up to 14x on 40 KB of emoji; checked as they come, as counting them first
            # cost 0.9% of the benchmark pass)
            if len(places) * _DENSEST > i + _SLACK:
                return None
        else:
            return None
        i = data.find(_QUESTION, i + 1)
    same = chars.count(chars[0]) == len(chars)
    if not own:
        return StandIn(data.replace(b"?", MARK_BYTE).decode("ascii"), places, chars, same)
    marked = bytearray(data)
    for p in places:
        marked[p] = MARK_BYTE[0]
    return StandIn(marked.decode("ascii"), places, chars, same)


@lru_cache(maxsize=1024)
def _stands_in(c: str) -> bool:
    """Whether MARK can stand in for `c`, a character other than ASCII."""
    return not (c.isalnum() or c.isspace() or c in _QUOTES or c.lower() != c or c.upper() != c or c.casefold() != c)
