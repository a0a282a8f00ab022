"""JSON string escapes undone, with a map from each character back to where it was written.

Why: a tool call's arguments are JSON text (`{"cmd": "export K=AKIA\\u0049OSF..."}`) that the proxy
hands to validators as sent, so that findings' spans point into what the client received. But the
app reads them through a JSON parser, which turns `\\u0049` back into "I": a pattern matched against
the raw text misses a key that has one character escaped. Validators that match text read
`Unescaped.text` (what the parser will give the app) and report spans through `raw_span`.

An escape that is not complete (a stream's window may end inside one) stays as written. A surrogate
half with no partner becomes U+FFFD, as lenient decoders do: a lone half cannot be encoded to UTF-8,
which RE2 matches on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ESCAPE = re.compile(r'\\(?:u([0-9a-fA-F]{4})|(["\\/bfnrt]))')
SIMPLE = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


@dataclass(frozen=True, slots=True)
class Unescaped:
    """`text` as a JSON parser reads it; `starts[i]` is where its character i begins in the raw text,
    and `starts[len(text)]` is the raw text's length (None: nothing was escaped, offsets are equal)."""

    text: str
    starts: list[int] | None = None

    def raw_span(self, start: int, end: int) -> tuple[int, int]:
        """The raw text's span for `text[start:end]`."""
        starts = self.starts
        return (start, end) if starts is None else (starts[start], starts[end])


def unescape(raw: str) -> Unescaped:
    """`raw` with its JSON string escapes undone (see the module's docstring)."""
    if "\\" not in raw:
        return Unescaped(raw)
    pieces: list[str] = []
    starts: list[int] = []
    pos = 0
    pending_high: int | None = None  # a high surrogate just read (its stand-in is last in `pieces`)
    for m in ESCAPE.finditer(raw):
        at = m.start()
        if at > pos:
            pieces.append(raw[pos:at])
            starts.extend(range(pos, at))
            pending_high = None
        code, simple = m.groups()
        point = int(code, 16) if simple is None else -1
        if 0xDC00 <= point <= 0xDFFF and pending_high is not None:  # the pair's second half: one character
            pieces[-1] = chr(0x10000 + ((pending_high - 0xD800) << 10) + (point - 0xDC00))
            pending_high = None
            pos = m.end()
            continue
        if simple is not None:
            char = SIMPLE[simple]
        elif 0xD800 <= point <= 0xDFFF:
            char = "\ufffd"
        else:
            char = chr(point)
        pending_high = point if 0xD800 <= point <= 0xDBFF else None
        pieces.append(char)
        starts.append(at)
        pos = m.end()
    pieces.append(raw[pos:])
    starts.extend(range(pos, len(raw) + 1))
    return Unescaped("".join(pieces), starts)
