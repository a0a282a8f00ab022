"""Python patterns tried only where a relaxed RE2 form of them matches.

A pattern that opens with a look-behind, or with letters common in prose, is tried by Python's engine
at nearly every position of an answer (~15-35 ns a character). RE2 reads a relaxed form of it (no
look-arounds, so it matches wherever the pattern does, and more) in one linear pass over the text as
ASCII bytes, "?" standing for every other character so offsets stay the same; the Python pattern is
then tried only where the relaxed one matched. The matches are the ones `finditer` gives.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import re2

from llmvet.validators.re2_raw import UNANCHORED, raw_match

# Python's \s and \d (str patterns) also match non-ASCII spaces and digits, which read as "?" here,
# and \s the ASCII characters \x0b and \x1c-\x1f, which RE2's \s does not.
SPACE = r"[\t\n\x0b\f\r\x1c-\x1f ?]"
DIGIT = "[0-9?]"


def relaxed(body: str) -> Any:
    """RE2 for `body`, a pattern with no look-arounds, read over `ascii_view` bytes: its groups do not
    capture, and \\s and \\d take what they match in Python (see above)."""
    body = re.sub(r"\(\?P<\w+>", "(?:", body.replace(r"\s", SPACE).replace(r"\d", DIGIT))
    return re2.compile(body)


def ascii_view(text: str) -> bytes:
    """`text` as ASCII, "?" for every other character (the same offsets)."""
    return text.encode("ascii", "replace")


def finditer(rx: re.Pattern[str], candidate: Any, text: str, data: bytes | None = None) -> Iterator[re.Match[str]]:
    """`rx.finditer(text)` for a pattern that never matches the empty string, `candidate` its relaxed
    form (`relaxed`). RE2's leftmost candidate from `pos` starts at or before the next place `rx`
    matches (the relaxed form matches there too); where `rx` fails, the search goes on one character
    later, as finditer's does."""
    match = raw_match(candidate)  # RE2 itself: the wrapper's match objects cost more than the scan
    data = ascii_view(text) if data is None else data
    pos, end = 0, len(text)
    while (a := match(UNANCHORED, data, pos, end)[0][0]) >= 0:
        m = rx.match(text, a)
        if m is None:
            pos = a + 1
            continue
        yield m
        pos = m.end()


def tried_at(rx: re.Pattern[str], text: str, starts: list[int]) -> Iterator[re.Match[str]]:
    """`rx.finditer(text)` for a pattern that never matches the empty string, given every place a relaxed
    form of it starts (ascending, marks.py): `rx` tried at each one past the previous match, in order."""
    pos = 0
    match = rx.match
    for a in starts:
        if a >= pos and (m := match(text, a)) is not None:
            yield m
            pos = m.end()
