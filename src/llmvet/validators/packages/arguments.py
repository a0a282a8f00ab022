"""Tool-call arguments as the packages validator reads them: JSON, read as the tool will read it.

Why: a tool call's arguments are JSON text (`{"cmd": "pip install requests\\nls"}`) that the proxy
hands to validators as sent, so findings' spans point into what the client received. Read raw, an
escape is part of a word (`\\nls` gave the name "nls", `\\u2014` the name "u2014", `p\\u0069p` hid
the tool's name), a quoted `\\"requests\\"` hid the name it quotes, and code sent with `\\n` between
its lines read as one line holding `{"code": "import numpy`.

What: the arguments with their escapes undone and each string's quotes made line breaks
(`llmvet.json_escapes.unescape`), so a string's text stands on lines of its own; each string that
may hold code is also read as a code block of no stated language (its imports, or the manifest a
tool writes). The validator maps findings' spans back into the raw arguments (`at_raw_spans`).
"""

from __future__ import annotations

from llmvet.json_escapes import Unescaped, unescape
from llmvet.text import CodeBlock


def arguments_view(raw: str) -> Unescaped:
    """The arguments as read (see the module's docstring), with the map back to `raw`."""
    return unescape(raw, quotes_as_breaks=True)


def string_blocks(view: Unescaped) -> list[CodeBlock]:
    """The view's JSON strings that may hold code (several lines, or an import), as code blocks: code
    sent to a tool is read like a block an answer shows. A string holding a fence is left to it."""
    blocks: list[CodeBlock] = []
    for start, end in view.strings:
        value = view.text[start:end]
        if ("\n" in value or "import" in value or "require" in value) and "```" not in value:
            blocks.append(CodeBlock("", value, (start, end)))
    return blocks
