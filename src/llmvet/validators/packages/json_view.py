"""Tool-call arguments as the packages validator reads them: JSON string escapes undone in place.

Why: a tool call's arguments are JSON text (`{"cmd": "pip install requests\\nls"}`), and the proxy
hands them to validators as sent, so findings' spans point into what the client received. Read raw,
an escape is part of a word: `\\nls` gave the name "nls", `\\u2014` (an em dash under `ensure_ascii`)
the name "u2014", and a quoted `\\"requests\\"` hid the name it quotes, while code sent with `\\n`
between its lines read as one line with no imports.

What: each escape becomes the character it stands for, padded in front with spaces to the escape's
length, so every offset still points at the same place in the raw text: `\\n` is " \\n", `\\"` is ` "`,
`\\u2014` five spaces and the dash. An escape that is not complete (a stream's last chunk may end
inside one) is left as it is. The quotes around a string (a quote after `{ [ , :` or before `: , } ]`)
become line breaks: a string's text is then lines of its own, as the tool will read it, so
`{"code": "import numpy\\nimport pandas"}` holds two import lines (a quote in prose, as in
`pip install "requests"`, stays a quote).
"""

from __future__ import annotations

import re

from llmvet.json_escapes import ESCAPE as _ESCAPE
from llmvet.text import CodeBlock

_SIMPLE = {'"': '"', "\\": "\\", "/": "/", "b": " ", "f": " ", "n": "\n", "r": "\r", "t": "\t"}


# An escape, or a quote that opens (after `{ [ , :`) or closes (before `: , } ]`) a JSON string.
_TOKEN = re.compile(f'{_ESCAPE.pattern}|([{{\\[,:][ \\t\\r\\n]*)"|"(?=[ \\t\\r\\n]*[:,}}\\]])')


def _undone(m: re.Match[str]) -> str:
    code, simple, opener = m.groups()
    if simple is not None:
        return " " + _SIMPLE[simple]
    if code is None:  # a string's quote
        return "\n" if opener is None else opener + "\n"
    char = chr(int(code, 16))
    # (a surrogate half stands for half of a character no name holds: a space, like a control character)
    return "     " + (" " if 0xD800 <= ord(char) <= 0xDFFF or not char.isprintable() else char)


def json_view(text: str) -> str:
    """`text` with its JSON string escapes undone and its strings' quotes made line breaks, the same
    length (see the module's docstring)."""
    return _TOKEN.sub(_undone, text)


def string_blocks(text: str, view: str) -> list[CodeBlock]:
    """The JSON strings of `text` that may hold code (several lines, or an import), as code blocks of
    no stated language over `view` (`json_view(text)`): code sent to a tool is read like a block an
    answer shows, imports and manifests included. A string holding a fence is left to the fence."""
    blocks: list[CodeBlock] = []
    opened = -1
    for m in _TOKEN.finditer(text):
        code, simple, opener = m.groups()
        if code is not None or simple is not None:
            continue
        if opener is not None:
            opened = m.end()
        elif opened >= 0:
            value = view[opened : m.start()]
            if ("\n" in value or "import" in value or "require" in value) and "```" not in value:
                blocks.append(CodeBlock("", value, (opened, m.start())))
            opened = -1
    return blocks
