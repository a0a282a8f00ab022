"""How `packages` checks a stream as it arrives: line by line, code blocks too, with lookups started early.

Prose goes out word by word, except a line that may hold an install command (it names a tool such as
pip or npm), which is released once it is complete and checked. Inside a fenced code block each line is checked
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
LOCAL_CONTEXT = "local_context"  # state key: earlier lines that may define local modules
LOCAL_CONTEXT_LIMIT = 16_384
OWN = "own"  # state key: project and module names earlier windows showed the answer defines
_LOCAL_HINTS = (".py", "/", ".js", ".ts", ".mjs", ".cjs", "mkdir", "startapp", "startproject", "cd ")
LOOKBACK = 64  # characters of context a prose window reads before its release point (negations)
# A prose line that may hold an install command (a tool's name, as the command patterns spell it) is
# held until it ends; other prose goes out word by word.
_HOLD_LINE = re.compile(
    r"(?<![\w./-])(?:pip[x3]?|python3?|py|uvx?|poetry|pdm|rye|hatch|pipenv|conda|mamba|micromamba"
    r"|npm|npx|yarn|pnpm|bunx?|deno)(?![\w-])"
)


def line_window(text: Any, state: dict[str, Any], cleared: int, final: bool) -> tuple[int, int, int]:
    """(check from, check to, release up to) for the text of a stream so far (see Validator.stream_window)."""
    line_start = pos = state.get("pos", 0)
    end = state.get("end", 0)
    fence, fence_start = state.get("fence"), state.get("fence_start", 0)
    anchor = state.get("anchor")  # start of the block that was open where text was last released
    while (nl := text.find("\n", pos)) >= 0:
        line = text[pos:nl]
        _remember_local(state, line)
        marker = line.lstrip()[:3]
        if fence is None and marker in ("```", "~~~"):
            fence, fence_start = marker, pos
        elif fence is not None and marker == fence and not line.strip()[3:]:
            fence = None
        if fence is None or nl + 1 - fence_start <= BLOCK_WINDOW_LIMIT:
            end = nl + 1
        pos = nl + 1
    state.update(pos=pos, end=end, fence=fence, fence_start=fence_start)
    release = len(text) if final else end
    if fence is None and not final:
        release = max(release, _prose_release(text, state, pos))
    if anchor is not None and anchor < cleared:
        start = anchor
    elif cleared > line_start:  # inside a line: a few words before, so "do not run pip install x" reads as such
        start = _lookback(text, line_start, cleared)
    else:
        start = cleared
    open_block = fence is not None and fence_start < release
    state["anchor"] = fence_start if open_block else None
    # where the next window may start
    state[KEEP_FROM] = fence_start if open_block else max(pos, release - LOOKBACK)
    return start, release, release


def _remember_local(state: dict[str, Any], line: str) -> None:
    """Keep lines that may name a file or folder the answer defines (`auth.py`, `mkdir app`): a later
    window's `import auth` is the answer's own module, as it would be judged on the whole answer."""
    if any(h in line for h in _LOCAL_HINTS) and len(state.get(LOCAL_CONTEXT, "")) < LOCAL_CONTEXT_LIMIT:
        state[LOCAL_CONTEXT] = state.get(LOCAL_CONTEXT, "") + line + "\n"


def _prose_release(text: Any, state: dict[str, Any], line_start: int) -> int:
    """How far into the unfinished prose line text may go: complete words, unless the line may be a
    command (a tool's name) or a fence. Scans only what arrived since the last call."""
    if state.get("line") != line_start:
        state.update(line=line_start, held=False, scanned=line_start, words_end=line_start)
    size = len(text)
    if not state["held"]:
        # re-read a little before the new text: a tool's name may have been split between two events
        piece = text[max(line_start, state["scanned"] - 16) : size]
        state["held"] = _HOLD_LINE.search(piece) is not None or text[line_start : line_start + 8].lstrip()[:1] in (
            "`",
            "~",
        )
        state["scanned"] = size
        if not state["held"]:
            new_from = max(line_start, state["words_end"])
            last = _TO_LAST_WS.match(text[new_from:size])
            if last:
                state["words_end"] = new_from + last.end()
    return int(state["words_end"]) if not state["held"] else line_start


def _lookback(text: Any, line_start: int, cleared: int) -> int:
    """Up to LOOKBACK characters before `cleared` in its line, from a word boundary (never inside a word)."""
    at = cleared - LOOKBACK
    if at <= line_start:
        return line_start
    m = _WS.search(text[at:cleared])
    return at + m.end() if m else cleared


def clean(window: str) -> bool:
    """Nothing in a window can fail: prose naming no install tool (code windows carry their fence)."""
    return _HOLD_LINE.search(window) is None and "```" not in window and "~~~" not in window


_AHEAD_HINT = re.compile(r"install|import|require|\badd\b|\bfrom\b|^\s*[A-Za-z0-9_.\-\[\]]+\s*[=<>~!]=", re.M)
# Its two halves, for a line read again with more text: the words (7 characters at most), and the
# `name==` form (only from a line's start).
_HINT_WORDS = re.compile(r"install|import|require|\badd\b|\bfrom\b")
_HINT_PIN = re.compile(r"\s*[A-Za-z0-9_.\-\[\]]+\s*[=<>~!]=")
_HINT_SPAN = 8  # longer than any match of _HINT_WORDS
_WS = re.compile(r"\s")
_TO_LAST_WS = re.compile(r".*\s", re.S)  # from the start through the last whitespace (one match, no walk)
NO_HINT = "no_hint"  # state key: (start, line start, length) of text searched for a hint without one


def _hint(pending: str, line: int, start: int, state: dict[str, Any]) -> bool:
    """`_AHEAD_HINT.search(pending, line)`, without reading the whole line again at every word.

    `pending` only grows while `start` and `line` (where the line being written begins) stay put, and
    ends where a space follows. A line of one text (no line break) already searched without a hint
    can only gain one in its new text: a word ending there (so starting at most `_HINT_SPAN` back), or
    the `name==` form from the line's start, which one match at that start answers. A line of prose
    otherwise costs its length at every word: 25 us a word at 500 characters."""
    searched = state.get(NO_HINT)
    if (
        searched is not None
        and searched[0] == start
        and searched[1] == line
        and (line == 0 or pending[line - 1] == "\n")
        and pending.find("\n", line) < 0
    ):
        found = _HINT_PIN.match(pending, line) is not None or (
            _HINT_WORDS.search(pending, max(line, searched[2] - _HINT_SPAN)) is not None
        )
    else:
        found = _AHEAD_HINT.search(pending, line) is not None
    state[NO_HINT] = None if found else (start, line, len(pending))
    return found


NO_TOOL = "no_tool"  # state key: (start, length) of text from `start` that `clean` holds for, or (start, -1)
_TOOL_SPAN = 16  # longer than any match of _HOLD_LINE with the characters its look-arounds read


def _clean_so_far(pending: str, start: int, state: dict[str, Any]) -> bool:
    """`clean(pending)`, reading only what arrived since the last call for the same `start` (`pending`
    only grows while `start` stays put). Prose naming no install tool and holding no fence gives
    extraction nothing to find (no command without a tool's name, no manifest or import without a
    block), so names_ahead need not run it at every word of a long prose line that says "from"."""
    searched = state.get(NO_TOOL)
    at = 0
    if searched is not None and searched[0] == start:
        if searched[1] < 0:
            return False  # a tool's name or a fence already stood in this text: it stays there
        at = searched[1]
    found = (
        _HOLD_LINE.search(pending, max(0, at - _TOOL_SPAN)) is not None
        or pending.find("```", max(0, at - 2)) >= 0
        or pending.find("~~~", max(0, at - 2)) >= 0
    )
    state[NO_TOOL] = (start, -1 if found else len(pending))
    return not found


def names_ahead(text: Any, state: dict[str, Any], imports: bool) -> list[Ref]:
    """The references complete so far in the line still being written (a name followed by a space),
    for lookups that should start before the line ends. Reads only when new whitespace arrived."""
    seen = state.get("ahead_seen", 0)
    size = len(text)
    state["ahead_seen"] = size
    end = state.get("end", 0)
    new = text[max(seen, end) : size]
    to_last_ws = _TO_LAST_WS.match(new)
    if to_last_ws is None:
        return []
    last_ws = to_last_ws.end() - 1
    start = state["anchor"] if state.get("anchor") is not None else end
    pending = text[start : max(seen, end) + last_ws]
    if len(pending) - (end - start) > AHEAD_LINE_LIMIT or not _hint(pending, end - start, start, state):
        return []
    if _clean_so_far(pending, start, state):
        return []  # (what extract would find in it: nothing)
    blocks = parse.code_blocks(pending, parse.find_fences(pending, open_ended=True))
    return [r for r in extract(pending, blocks, imports=imports).refs if r.span[0] >= end - start]
