"""How `packages` checks a stream as it arrives: line by line, code blocks too, with lookups started early.

A line is released once it is complete and checked. Inside a fenced code block each line is checked
with the block's opening fence in front of it (its language decides whether `import x` is Python or
JavaScript), so the check window starts at the fence while the release point moves line by line;
findings already reported for earlier lines of the block are not reported again. A block longer than
`BLOCK_WINDOW_LIMIT` is held until it closes, so re-reading the block stays bounded.
"""

from __future__ import annotations

import re
from typing import Any

from llmvet import text as parse
from llmvet.validators.base import KEEP_FROM
from llmvet.validators.packages.extract import Ref, extract

BLOCK_WINDOW_LIMIT = 4_096  # characters of an open block re-read per line, at most (bounds the re-reading)
AHEAD_LINE_LIMIT = 1_024  # an unfinished line longer than this waits for its end before names are looked up


def line_window(text: Any, state: dict[str, Any], cleared: int, final: bool) -> tuple[int, int, int]:
    """(check from, check to, release up to) for the text of a stream so far (see Validator.stream_window)."""
    pos, end = state.get("pos", 0), state.get("end", 0)
    fence, fence_start = state.get("fence"), state.get("fence_start", 0)
    anchor = state.get("anchor")  # start of the block that was open where text was last released
    while (nl := text.find("\n", pos)) >= 0:
        line = text[pos:nl]
        marker = line.lstrip()[:3]
        if fence is None and marker in ("```", "~~~"):
            fence, fence_start = marker, pos
        elif fence is not None and marker == fence and not line.strip()[3:]:
            fence = None
        if fence is None or nl + 1 - fence_start <= BLOCK_WINDOW_LIMIT:
            end = nl + 1
        pos = nl + 1
    if final:
        end = len(text)
    start = anchor if anchor is not None and anchor < cleared else cleared
    open_block = fence is not None and fence_start < end
    state.update(pos=pos, end=end, fence=fence, fence_start=fence_start, anchor=fence_start if open_block else None)
    state[KEEP_FROM] = fence_start if open_block else end  # where the next window may start
    return start, end, end


_AHEAD_HINT = re.compile(r"install|import|require|\badd\b|\bfrom\b|^\s*[A-Za-z0-9_.\-\[\]]+\s*[=<>~!]=", re.M)
_WS = re.compile(r"\s")


def names_ahead(text: Any, state: dict[str, Any], imports: bool) -> list[Ref]:
    """The references complete so far in the line still being written (a name followed by a space),
    for lookups that should start before the line ends. Reads only when new whitespace arrived."""
    seen = state.get("ahead_seen", 0)
    size = len(text)
    state["ahead_seen"] = size
    end = state.get("end", 0)
    new = text[max(seen, end) : size]
    last_ws = max((m.start() for m in _WS.finditer(new)), default=-1)
    if last_ws < 0:
        return []
    start = state["anchor"] if state.get("anchor") is not None else end
    pending = text[start : max(seen, end) + last_ws]
    if len(pending) - (end - start) > AHEAD_LINE_LIMIT or not _AHEAD_HINT.search(pending, end - start):
        return []
    blocks = parse.code_blocks(pending, parse.find_fences(pending, open_ended=True))
    return [r for r in extract(pending, blocks, imports=imports).refs if r.span[0] >= end - start]
