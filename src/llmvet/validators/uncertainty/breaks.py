"""Where the prose sentence around a position begins and ends (text.Views.sentence_bounds).

A sentence ends at a break, `SENTENCE_BREAK`.
tests/validators/uncertainty/test_text_fast_paths.py compares the bounds with the definition.
"""

from __future__ import annotations

import re

SENTENCE_BREAK = re.compile(r"(?<=[.!?])[\"')\]]*[ \t]+|\n+")  # the definition
# The end of the last break in a range, in one match: `.*` backs off from the range's end to the last place a
# break matches (a finditer through the range, one match object per break, tried every position of it: ~10 us
# a call). Within a match of it a break matches only further along its newline run, to the same end.
_LAST_BREAK = re.compile(r"(?s:.*)(?:(?<=[.!?])[\"')\]]*[ \t]+|\n+)")


def next_break(prose: str, pos: int) -> int:
    """Where the first SENTENCE_BREAK match at or after `pos` starts (`len(prose)`: none)."""
    m = SENTENCE_BREAK.search(prose, pos)
    return m.start() if m else len(prose)


def last_break_end(prose: str, lo: int, pos: int) -> int:
    """The end of the last SENTENCE_BREAK match in prose[lo:pos] (0: none)."""
    last = _LAST_BREAK.match(prose, lo, pos)
    return last.end() if last else 0
