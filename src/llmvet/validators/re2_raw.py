"""RE2's own matcher, under the google-re2 wrapper, for scans that need only where a match starts.

The wrapper's `search` and `finditer` encode the text, build a generator, map byte offsets back to
characters and make a match object on every call: ~2 us, a fifth of a short answer's regex check. The
compiled RE2 object the wrapper holds answers the leftmost match's byte span directly. Reaching it
means reading the wrapper's private names (`_regexp`, `_re2`): they are read here only, so a
google-re2 release that renames them breaks one module (its users: regex.py, packages/scan.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import re2

UNANCHORED = re2._re2.RE2.Anchor.UNANCHORED

RawMatch = Callable[[Any, bytes, int, int], Any]


def raw_match(pattern: Any) -> RawMatch:
    """`Match(anchor, data, pos, endpos)` of a pattern from `re2.compile`: `[0][0]` of what it returns is
    the byte offset where the leftmost match in `data[pos:endpos]` starts, -1 where there is none."""
    match: RawMatch = pattern._regexp.Match
    return match
