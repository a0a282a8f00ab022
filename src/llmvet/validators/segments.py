"""Segment boundaries for validators that check a stream as it arrives: tokens and lines.

Each function returns the end of the last complete segment of `text`, scanning only what was added
since the last call (kept in `state`), so a whole stream costs time linear in its length.
"""

from __future__ import annotations

from typing import Any


def after_last(text: str, state: dict[str, Any], separators: str) -> int:
    """Just after the last character of `separators` in `text` (0 when there is none yet)."""
    scanned = state.get("scanned", 0)
    new = text[scanned:]  # one copy of what arrived since the last call
    last = max(new.rfind(c) for c in separators)
    if last >= 0:
        state["end"] = scanned + last + 1
    state["scanned"] = scanned + len(new)
    return int(state.get("end", 0))


WHITESPACE = " \t\r\n\f\v\u00a0\u2028\u2029"


def token_boundary(text: str, state: dict[str, Any]) -> int:
    """Complete whitespace-separated tokens: only the token still being written is held back."""
    return after_last(text, state, WHITESPACE)


def line_boundary(text: str, state: dict[str, Any]) -> int:
    """Complete lines."""
    return after_last(text, state, "\n")
