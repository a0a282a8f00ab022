"""Tool-call arguments as the packages validator reads them: JSON string escapes undone in place.

Why: a tool call's arguments are JSON text (`{"cmd": "pip install requests\\nls"}`), and the proxy
hands them to validators as sent, so findings' spans point into what the client received. Read raw,
an escape is part of a word: `\\nls` gave the name "nls", `\\u2014` (an em dash under `ensure_ascii`)
the name "u2014", and a quoted `\\"requests\\"` hid the name it quotes, while code sent with `\\n`
between its lines read as one line with no imports.

What: each escape becomes the character it stands for, padded in front with spaces to the escape's
length, so every offset still points at the same place in the raw text: `\\n` is " \\n", `\\"` is ` "`,
`\\u2014` five spaces and the dash. An escape that is not complete (a stream's last chunk may end
inside one) is left as it is.
"""

from __future__ import annotations

import re

from llmvet.json_escapes import ESCAPE as _ESCAPE

_SIMPLE = {'"': '"', "\\": "\\", "/": "/", "b": " ", "f": " ", "n": "\n", "r": "\r", "t": "\t"}


def _undone(m: re.Match[str]) -> str:
    code, simple = m.groups()
    if simple is not None:
        return " " + _SIMPLE[simple]
    char = chr(int(code, 16))
    # (a surrogate half stands for half of a character no name holds: a space, like a control character)
    return "     " + (" " if 0xD800 <= ord(char) <= 0xDFFF or not char.isprintable() else char)


def json_view(text: str) -> str:
    """`text` with its JSON string escapes undone, the same length (see the module's docstring)."""
    return _ESCAPE.sub(_undone, text) if "\\" in text else text
