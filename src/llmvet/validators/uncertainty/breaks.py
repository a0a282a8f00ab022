"""Where the prose sentence around a position begins and ends (text.Views.sentence_bounds).

A sentence ends at a break, `SENTENCE_BREAK`. That pattern begins with a look-behind, so a search for
the next one was tried at every position up to it; it is found with a pattern that begins with the
characters a break begins at or after ("\\n", "[.!?]"), which the engine skips to in its own loop.
tests/validators/uncertainty/test_text_fast_paths.py compares the bounds with the definition.
"""

from __future__ import annotations

import re

SENTENCE_BREAK = re.compile(r"(?<=[.!?])[\"')\]]*[ \t]+|\n+")  # the definition
# The end of the last break in a range, in one match: `.*` backs off from the range's end to the last place a
# break matches (a finditer through the range, one match object per break, tried every position of it: ~10 us
# a call). Within a match of it a break matches only further along its newline run, to the same end.
_LAST_BREAK = re.compile(r"(?s:.*)(?:" + SENTENCE_BREAK.pattern + ")")
# where a break starts: at a "\n", or just after a "[.!?]" followed by what that alternative reads
_BREAK_AT = re.compile(r"[\n.!?](?:(?<=\n)|(?=[\"')\]]*[ \t]))")


def next_break(prose: str, pos: int) -> int:
    """Where the first SENTENCE_BREAK match at or after `pos` starts (`len(prose)`: none)."""
    # (from the "[.!?]" just before `pos`, if any: a break may start at `pos` after it)
    m = _BREAK_AT.search(prose, pos - 1 if 0 < pos <= len(prose) and prose[pos - 1] in ".!?" else pos)
    if m is None:
        return len(prose)
    at = m.start()
    return at if prose[at] == "\n" else at + 1


def last_break_end(prose: str, lo: int, pos: int) -> int:
    """The end of the last SENTENCE_BREAK match in prose[lo:pos] (0: none)."""
    last = _LAST_BREAK.match(prose, lo, pos)
    return last.end() if last else 0
