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
_ESCAPE_OR_QUOTE = re.compile(ESCAPE.pattern + '|"')  # (in JSON, a quote not escaped opens or closes a string)
SIMPLE = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


@dataclass(frozen=True, slots=True)
class Unescaped:
    """`text` as a JSON parser reads it; `starts[i]` is where its character i begins in the raw text,
    and `starts[len(text)]` is the raw text's length (None: nothing was escaped, offsets are equal).
    With `quotes_as_breaks`, `strings` holds the spans in `text` of the JSON strings' contents."""

    text: str
    starts: list[int] | None = None
    strings: tuple[tuple[int, int], ...] = ()

    def raw_span(self, start: int, end: int) -> tuple[int, int]:
        """The raw text's span for `text[start:end]`."""
        starts = self.starts
        return (start, end) if starts is None else (starts[start], starts[end])


def unescape(raw: str, *, quotes_as_breaks: bool = False) -> Unescaped:
    """`raw` with its JSON string escapes undone (see the module's docstring). With `quotes_as_breaks`,
    the quotes around each string of a JSON object or array become line breaks, so a string's text
    stands on lines of its own (text that is not JSON keeps its quotes: `pip install "requests"`)."""
    quotes_as_breaks = quotes_as_breaks and raw.lstrip()[:1] in ("{", "[")
    if "\\" not in raw and not quotes_as_breaks:
        return Unescaped(raw)
    pieces: list[str] = []
    starts: list[int] = []  # (its length is also the unescaped text's length so far)
    strings: list[tuple[int, int]] = []
    pos = 0
    opened = -1  # where the string being read began in the unescaped text
    pending_high: int | None = None  # a high surrogate just read (its stand-in is last in `pieces`)
    for m in (_ESCAPE_OR_QUOTE if quotes_as_breaks else ESCAPE).finditer(raw):
        at = m.start()
        if at > pos:
            pieces.append(raw[pos:at])
            starts.extend(range(pos, at))
            pending_high = None
        pos = m.end()
        code, simple = m.group(1), m.group(2)
        if code is None and simple is None:  # a string's quote
            pieces.append("\n")
            starts.append(at)
            if opened < 0:
                opened = len(starts)
            else:
                strings.append((opened, len(starts) - 1))
                opened = -1
            pending_high = None
            continue
        point = int(code, 16) if simple is None else -1
        if 0xDC00 <= point <= 0xDFFF and pending_high is not None:  # the pair's second half: one character
            pieces[-1] = chr(0x10000 + ((pending_high - 0xD800) << 10) + (point - 0xDC00))
            pending_high = None
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
    pieces.append(raw[pos:])
    starts.extend(range(pos, len(raw) + 1))
    return Unescaped("".join(pieces), starts, tuple(strings))
