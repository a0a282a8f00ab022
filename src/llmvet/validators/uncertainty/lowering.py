"""Lower-casing a view without moving its offsets (text.build_views)."""

from __future__ import annotations

ASCII_LOWER = str.maketrans({chr(c): chr(c + 32) for c in range(65, 91)})  # length-preserving, unlike str.lower
_ASCII_BYTES = bytes(range(128))  # (deleted from UTF-8 bytes: those of the other characters are left, see lower)


def lower(s: str) -> str:
    # str.lower is fast but may change the length of non-ASCII text (e.g. "İ"); offsets must not move.
    if s.isascii():
        return s.lower()
    # str.lower of a text with other characters looks each one up (~55 instructions a character, 2.5 % of
    # the rule path's): where none of those changes (dashes, arrows, emoji; not "É", "Σ", "İ"), the lower-
    # cased text is the ASCII letters lowered, which bytes.lower does on the UTF-8 bytes (a multi-byte
    # character's bytes are all above 127). The characters' own bytes, kept by deleting the ASCII ones,
    # are whole characters, looked up once. ("surrogatepass": a lone surrogate stays one.)
    data = s.encode("utf-8", "surrogatepass")
    others = data.translate(None, _ASCII_BYTES).decode("utf-8", "surrogatepass")
    if others.lower() == others:  # (each maps to itself: lower never maps one to none)
        return data.lower().decode("utf-8", "surrogatepass")
    lowered = s.lower()  # lower() never maps a character to nothing, so equal length means aligned offsets
    return lowered if len(lowered) == len(s) else s.translate(ASCII_LOWER)
