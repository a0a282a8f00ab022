"""What the validators read for one input, and how an offset in it maps back to file:line:column.

Validators read answers: prose with fenced code. A raw file (a requirements file, a Dockerfile, a
Python module) is therefore wrapped in a fence whose info string names its kind, so the packages
extractor reads it as it would read the same file quoted in an answer. Notebooks become one document
per cell; files larger than a window become overlapping windows, so a secret at the end of a 50 MB
file is still found while no single check reads more than a window.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePath

from llmvet.cli.scan.linemap import LineMap
from llmvet.cli.scan.rst import rewrite

WINDOW = 1 << 20  # characters per check: bounded work per validator run, whatever the file's size
OVERLAP = 8192  # a match up to this long that straddles two windows is still whole in one of them

_BY_NAME = {
    "pyproject.toml": "pyproject.toml",
    "setup.py": "setup.py",
    "setup.cfg": "setup.cfg",
    "pipfile": "Pipfile",
    "package.json": "package.json",
}
_BY_SUFFIX = {
    ".py": "python",
    ".sh": "bash",
    ".bash": "bash",
    ".zsh": "bash",
    ".yml": "yaml",
    ".yaml": "yaml",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".tsx": "typescript",
    ".toml": "toml",
    ".dockerfile": "dockerfile",
}
PROSE_SUFFIXES = {".md", ".markdown", ".rst", ".rest", ".txt", ".text", ""}
RST_SUFFIXES = {".rst", ".rest"}
_BARE_FENCE = re.compile(r"^[ \t]*```[ \t]*$", re.M)


class InputError(Exception):
    """An input that cannot be checked (unreadable, binary, not UTF-8): one line for the user."""


@dataclass(slots=True)
class Document:
    source: str  # the path as given, "-" for stdin, or the JSONL line's id
    text: str  # what the validators read
    offset: int = 0  # where the source's own content starts in `text` (after an added fence line)
    start: int = 0  # where that content starts in the source file (windows)
    line: int = 1  # the file line of the content's first character
    cell: int | None = None  # notebook cell number, from 1
    prompt: str = ""
    model: str | None = None
    is_file: bool = True  # False for stdin and JSONL texts: no file to point at
    lines: LineMap | None = None  # a rewritten text (reStructuredText): where each of its lines came from

    def locate(self, pos: int) -> tuple[int, int]:
        """(line, column), both from 1, of an offset into `text`, in the source's own terms."""
        if self.lines is not None:
            return self.lines.locate(pos)
        pos = max(self.offset, min(pos, len(self.text)))
        line = self.line + self.text.count("\n", self.offset, pos)
        col = pos - max(self.offset, self.text.rfind("\n", 0, pos) + 1) + 1
        return line, col

    def source_offset(self, pos: int) -> int:
        """An offset into `text` as an offset into the source (its cell, for a notebook)."""
        if self.lines is not None:
            return self.lines.source_offset(pos)
        return self.start + max(0, pos - self.offset)


def fence_language(path: PurePath) -> str | None:
    """The fence info string a file is wrapped in, or None when it is read as prose (Markdown, text)."""
    name = path.name.lower()
    if name.startswith(("requirements", "constraints")) and path.suffix.lower() in (".txt", ".in"):
        return "requirements.txt"
    if name in _BY_NAME:
        return _BY_NAME[name]
    if name == "dockerfile" or name.startswith("dockerfile.") or name.endswith(".dockerfile"):
        return "dockerfile"
    return _BY_SUFFIX.get(path.suffix.lower())


def decode(data: bytes, source: str) -> str:
    """UTF-8 text, or an InputError saying why not (binary, or where the bad byte is)."""
    if b"\x00" in data[:8192]:
        raise InputError(f"{source}: binary file (NUL bytes), not scanned")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{source}: not UTF-8 (byte {exc.start}: {exc.reason}), not scanned") from None


def documents_for(source: str, content: str, *, language: str | None, is_file: bool = True) -> Iterator[Document]:
    """The documents of one text: windows of it, each fenced when `language` is set."""
    for start, line, chunk in _windows(content):
        if language is None:
            yield Document(source, chunk, 0, start, line, is_file=is_file)
            continue
        fence = "~~~" if _BARE_FENCE.search(chunk) else "```"
        head = f"{fence}{language}\n"
        yield Document(source, f"{head}{chunk}\n{fence}\n", len(head), start, line, is_file=is_file)


def rst_documents(source: str, content: str, *, is_file: bool = True) -> Iterator[Document]:
    """reStructuredText: prose, with its literal blocks (`.. code-block::`, `::`) read as code."""
    for start, line, chunk in _windows(content):
        rewritten = rewrite(chunk)
        if rewritten is None:
            yield Document(source, chunk, 0, start, line, is_file=is_file)
        else:
            text, lines = rewritten
            yield Document(source, text, 0, start, line, is_file=is_file, lines=lines.shifted(line - 1, start))


def notebook_documents(source: str, content: str) -> Iterator[Document]:
    """One document per code or Markdown cell; code cells are fenced in the kernel's language."""
    try:
        nb = json.loads(content)
        cells = nb["cells"]
        language = str(nb.get("metadata", {}).get("kernelspec", {}).get("language") or "python").lower()
    except (ValueError, KeyError, TypeError, AttributeError):
        raise InputError(f"{source}: not a Jupyter notebook (no cells), not scanned") from None
    for number, cell in enumerate(cells, start=1):
        kind = cell.get("cell_type")
        if kind not in ("code", "markdown"):
            continue
        raw = cell.get("source", "")
        text = "".join(raw) if isinstance(raw, list) else str(raw)
        for doc in documents_for(source, text, language=language if kind == "code" else None):
            doc.cell = number
            yield doc


def _windows(content: str) -> Iterator[tuple[int, int, str]]:
    """(start offset, start line, chunk): the whole text when small, else overlapping windows."""
    if len(content) <= WINDOW:
        yield 0, 1, content
        return
    start, line = 0, 1
    while True:
        end = min(len(content), start + WINDOW)
        yield start, line, content[start:end]
        if end == len(content):
            return
        nxt = end - OVERLAP
        # begin the next window at a line start when one is near, so line numbers stay exact
        cut = content.rfind("\n", nxt - OVERLAP, nxt)
        nxt = cut + 1 if cut >= 0 else nxt
        line += content.count("\n", start, nxt)
        start = nxt
