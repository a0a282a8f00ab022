"""Lower-casing a view without moving its offsets (text.build_views)."""

from __future__ import annotations

ASCII_LOWER = str.maketrans({chr(c): chr(c + 32) for c in range(65, 91)})  # length-preserving, unlike str.lower


def lower(s: str) -> str:
    # str.lower is fast but may change the length of non-ASCII text (e.g. "İ"); offsets must not move.
    if s.isascii():
        return s.lower()
    lowered = s.lower()  # lower() never maps a character to nothing, so equal length means aligned offsets
    return lowered if len(lowered) == len(s) else s.translate(ASCII_LOWER)
