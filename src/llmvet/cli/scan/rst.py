"""reStructuredText literal blocks as Markdown fences, so the install lines and imports in them are
read as they are in an answer's code blocks (an import is only read in code).

Read as code: `.. code-block:: LANG`, `.. code:: LANG`, `.. sourcecode:: LANG`, `.. prompt:: LANG`
(sphinx-prompt), the Python ones (`.. doctest::`, `.. testcode::`, `.. testsetup::`, `.. ipython::`,
`.. jupyter-execute::`), and `::` literal blocks (a paragraph ending in `::`, or a line of just
`::`) in the language the last `.. highlight:: LANG` set, else none (the code decides, as in an
unlabelled fence; a `>>>` session is Python), and doctest blocks (paragraphs starting with `>>>`). A line scanner rather than docutils: docutils' nodes carry no columns (and not
always a line), and it does not know Sphinx's directives.
"""

from __future__ import annotations

import re

from llmvet.cli.scan.linemap import LineMap

_DIRECTIVE = re.compile(r"^([ \t]*)\.\.[ \t]+([\w:.-]+)::(?:[ \t]+(.*?))?\s*$")  # \s: CRLF files
_PYTHON_DIRECTIVES = {"doctest", "testcode", "testsetup", "testcleanup", "ipython", "jupyter-execute"}
_LANG_DIRECTIVES = {"code-block", "code", "sourcecode", "prompt"}
_OPTION = re.compile(r"^[ \t]+:[\w-]+:")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _width(line: str) -> int:
    """Indentation as rST measures it (tabs to multiples of 8)."""
    return len(line[: _indent(line)].expandtabs(8))


def _content(lines: list[str], first: int, base: int, *, options: bool) -> tuple[int, int]:
    """[start, end) of the lines indented deeper than `base` from `first`, skipping a directive's
    `:option:` lines first and trailing blank lines; empty when there is no such line."""
    i = first
    while options and i < len(lines) and _OPTION.match(lines[i]) and _width(lines[i]) > base:
        i += 1
    end = i
    while end < len(lines) and (not lines[end].strip() or _width(lines[end]) > base):
        end += 1
    while end > i and not lines[end - 1].strip():
        end -= 1
    return i, end


def _sniff(body: list[str]) -> str:
    """A literal block's language when nothing set one: a Python session is `pycon` (as Sphinx
    highlights it), anything else is left to the code."""
    first = next((line.lstrip() for line in body if line.strip()), "")
    return "pycon" if first.startswith(">>>") else ""


def _literal_paragraph(line: str) -> bool:
    stripped = line.strip()
    return stripped.endswith("::") and not stripped.startswith("..")


class _Writer:
    """Builds the rewritten text line by line, with where each line came from."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.starts = [0]
        for line in lines[:-1]:
            self.starts.append(self.starts[-1] + len(line) + 1)
        self.out: list[str] = []
        self.map = LineMap()
        self.pos = 0

    def emit(self, text: str, row: int, cut: int) -> None:
        """`text` stands for source line `row` (from 0) from its character `cut` on."""
        self.map.add(self.pos, row + 1, self.starts[row] + cut, cut + 1)
        self.out.append(text)
        self.pos += len(text) + 1

    def fenced(self, head_row: int, lang: str, start: int, end: int) -> None:
        body = self.lines[start:end]
        cut = min(_indent(line) for line in body if line.strip())
        fence = "~~~" if any(line.lstrip().startswith("```") for line in body) else "```"
        self.emit(fence + lang, head_row, _indent(self.lines[head_row]))
        for row in range(start, end):
            self.emit(self.lines[row][cut:], row, min(cut, len(self.lines[row])))
        self.emit(fence, end - 1, len(self.lines[end - 1]))


def rewrite(content: str) -> tuple[str, LineMap] | None:
    """The text with every literal block fenced, and its line map; None when there is no block."""
    lines = content.split("\n")
    w = _Writer(lines)
    highlight, found, row = "", False, 0
    while row < len(lines):
        line = lines[row]
        m = _DIRECTIVE.match(line)
        name = m.group(2).lower() if m else ""
        args = (m.group(3) or "").split() if m else []
        if name == "highlight":
            highlight = args[0].lower() if args else ""
        if m and (name in _PYTHON_DIRECTIVES or name in _LANG_DIRECTIVES):
            start, end = _content(lines, row + 1, _width(line), options=True)
            if end > start:
                lang = "python" if name in _PYTHON_DIRECTIVES else (args[0].lower() if args else highlight)
                w.fenced(row, lang, start, end)
                found, row = True, end
                continue
        elif not m and _literal_paragraph(line):
            start, end = _content(lines, row + 1, _width(line), options=False)
            if end > start:
                w.emit(line, row, 0)
                w.fenced(row, highlight or _sniff(lines[start:end]), start, end)
                found, row = True, end
                continue
        elif line.lstrip().startswith(">>> "):  # a doctest block: a paragraph that starts with >>>
            end = next((n for n in range(row, len(lines)) if not lines[n].strip()), len(lines))
            w.fenced(row, "pycon", row, end)
            found, row = True, end
            continue
        w.emit(line, row, 0)
        row += 1
    return ("\n".join(w.out), w.map) if found else None
