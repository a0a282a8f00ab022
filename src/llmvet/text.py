"""Reading answer text: Markdown code fences, prose sentences, and the text of OpenAI message shapes.

A leaf module: validators, the proxy and the review queue all read text the same way through it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

# Fences are found in linear time: a single regex re-scanned to the end of the text for every unclosed
# opener (quadratic: 40 KB of "```a" lines held the event loop for 5 s). An opening fence line is
# `^[ \t]*(```|~~~)([^\n`]*)\n`, a closing one `^[ \t]*(```|~~~)[ \t]*$` (multi-line);
# find_fences reads the lines either may match, `^[ \t]*(```|~~~)([^\n`]*)$`: a marker after blanks,
# no backtick after it (tests/validators/uncertainty/test_text_fast_paths.py: FENCE_OPEN, FENCE_CLOSE
# and its reference).
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[A-Z0-9\"'(\[])|\n{2,}|\n(?=\s*(?:[-*•]|\d+[.)])\s)")


@dataclass(slots=True)
class CodeBlock:
    language: str  # fence info string, lower-cased, may be ""
    code: str
    span: tuple[int, int]  # span of `code` inside the answer text


@dataclass(slots=True)
class Sentence:
    text: str
    span: tuple[int, int]


def find_fences(text: str, open_ended: bool = False) -> list[tuple[int, int, str, int, int]]:
    """(block start, block end, info string, code start, code end) per fenced block, in linear time.

    An opener that is never closed is not a block (its lines stay prose), unless `open_ended`: in the
    part of a stream seen so far, the block it opens runs to the end of the text (its close is still to come).
    """
    if "~~~" not in text:  # (most answers) one marker: its lines read and paired in one walk
        return _backtick_fences(text, open_ended)
    lines = _fence_lines(text)
    n, count = len(text), len(lines)
    out: list[tuple[int, int, str, int, int]] = []
    dead = ""  # markers no closer follows (after the opener tried: so after every later opener too)
    i = 0
    while i < count:
        start, eol, marker, info, _ = lines[i]
        i += 1
        if eol == n or marker in dead:
            continue  # not an opener (no newline ends the line), or one that cannot be closed
        j = i
        while j < count and lines[j][4] != marker:
            j += 1  # the first later closing line of the same marker
        if j == count:
            if open_ended:
                out.append((start, n, info, eol + 1, n))
                break
            dead += marker
            continue
        out.append((start, lines[j][1], info, eol + 1, lines[j][0]))
        i = j + 1
    return out


def _backtick_fences(text: str, open_ended: bool) -> list[tuple[int, int, str, int, int]]:
    """find_fences of a text without "~~~", its fence lines (as _marker_lines reads them) paired as they
    come, no list of them made: an opener is closed by the first later closing line; one that no closing
    line follows leaves every later opener unclosed too (only that marker), so it stays open to the end."""
    n = len(text)
    out: list[tuple[int, int, str, int, int]] = []
    opened: tuple[int, int, str] | None = None  # (line start, line end, info) of the block not yet closed
    at = -4  # where in `text` the occurrence after `part` stands
    for part, after in pairwise(("\n" + text).split("```")):
        at += len(part) + 3
        start = at
        if part[-1:] != "\n":  # (most fences start their line)
            _, nl, blanks = part.rpartition("\n")
            if not nl or blanks.strip(" \t"):
                continue
            start -= len(blanks)
        if after[:1] == "\n":  # (a closer, most often: the marker alone)
            if opened is None:
                opened = (start, at + 3, "")
            else:
                out.append((opened[0], at + 3, opened[2], opened[1] + 1, start))
                opened = None
            continue
        info = _info(text, after, at)
        if info is None:
            continue  # a backtick after the marker: neither an opener nor a closer
        eol = at + 3 + len(info)
        if opened is None:
            if eol != n:  # (an opener ends with a newline)
                opened = (start, eol, info)
        elif not info.strip(" \t"):
            out.append((opened[0], eol, opened[2], opened[1] + 1, start))
            opened = None
    if opened is not None and open_ended:
        out.append((opened[0], n, opened[2], opened[1] + 1, n))
    return out


def _info(text: str, after: str, at: int) -> str | None:
    """The rest of the fence line whose marker (three characters) stands at `at` (`after`: the text from its
    end to the next occurrence), or None when it holds a backtick."""
    info, nl, _ = after.partition("\n")
    if not nl:  # the line runs on to the text's end, or past the next occurrence
        eol = text.find("\n", at + 3)
        info = text[at + 3 : eol if eol >= 0 else len(text)]
    return None if "`" in info else info


def _fence_lines(text: str) -> list[tuple[int, int, str, str, str]]:
    """(line start, line end, marker, the rest of the line, the marker if the line may close a block
    else "") of each line an opening (with its newline) or a closing fence line may be, in order."""
    lines = _marker_lines(text, "```")
    tildes = _marker_lines(text, "~~~") if "~~~" in text else []  # (most answers have none)
    if tildes:
        return sorted(lines + tildes) if lines else tildes  # (each in order: the two merged)
    return lines


def _marker_lines(text: str, marker: str) -> list[tuple[int, int, str, str, str]]:
    """_fence_lines of one marker, read from the pieces between its occurrences: one split, then (for
    a line not in the usual form) a partition each side of an occurrence. A regex tried at every
    newline costs ~1 k instructions a line; so does each str.find given a start (it parses its
    arguments from a format)."""
    parts = ("\n" + text).split(marker)  # (a newline before the text: the first line starts after one)
    out: list[tuple[int, int, str, str, str]] = []
    at = -4  # where in `text` the occurrence after `part` stands
    for part, after in pairwise(parts):
        at += len(part) + 3
        start = at
        if part[-1:] != "\n":  # (most fences start their line)
            _, nl, blanks = part.rpartition("\n")
            if not nl or blanks.strip(" \t"):
                continue  # not at a line's start after blanks only (the line may hold an earlier one)
            start -= len(blanks)
        if after[:1] == "\n":  # (a closer, most often: the marker alone)
            out.append((start, at + 3, marker, "", marker))
            continue
        info = _info(text, after, at)
        if info is not None:
            out.append((start, at + 3 + len(info), marker, info, "" if info.strip(" \t") else marker))
    return out


def add_sentence(out: list[Sentence], chunk: str, a: int, b: int, offset: int) -> None:
    piece = chunk[a:b]
    stripped = piece.strip()
    if stripped:
        lead = len(piece) - len(piece.lstrip())
        s = offset + a + lead
        out.append(Sentence(stripped, (s, s + len(stripped))))


def prompt_text(request: dict[str, Any]) -> str:
    if "messages" in request:
        for msg in reversed(request.get("messages") or []):
            if msg.get("role") == "user":
                return content_text(msg.get("content"))
        return ""
    if "input" in request:
        inp = request["input"]
        if isinstance(inp, str):
            return inp
        for item in reversed(inp or []):
            if isinstance(item, dict) and item.get("role", "user") == "user":
                return content_text(item.get("content"))
        return ""
    p = request.get("prompt", "")
    return p if isinstance(p, str) else " ".join(map(str, p))


def field_text(value: Any) -> str:
    """The text of a field that should hold a string: the string, "" for None, else its JSON text.

    A hostile upstream may put an object, a list or a number where the wire format has a string; the
    app still receives it (an SDK keeps what it cannot type), so it is vetted as the text it is sent as.
    """
    if value.__class__ is str:
        return value
    return "" if value is None else json.dumps(value, ensure_ascii=False)


def content_text(content: Any) -> str:
    """Text of an OpenAI message content: a string or a list of typed parts (see `field_text`)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(field_text(p.get("text")) if isinstance(p, dict) else field_text(p) for p in content)
    return field_text(content)


def code_blocks(text: str, fences: list[tuple[int, int, str, int, int]]) -> list[CodeBlock]:
    return [CodeBlock(info.strip().lower(), text[a:b], (a, b)) for _, _, info, a, b in fences]


def prose_spans(text: str, fences: list[tuple[int, int, str, int, int]]) -> list[tuple[int, int]]:
    """Spans of the text outside fenced code blocks."""
    spans, pos = [], 0
    for start, end, _, _, _ in fences:
        if start > pos:
            spans.append((pos, start))
        pos = end
    if pos < len(text):
        spans.append((pos, len(text)))
    return spans


def sentences(text: str, prose: list[tuple[int, int]]) -> list[Sentence]:
    """Sentences of the prose spans, with their spans in `text`."""
    out: list[Sentence] = []
    for start, end in prose:
        chunk = text[start:end]
        pos = 0
        for m in _SENTENCE_END.finditer(chunk):
            add_sentence(out, chunk, pos, m.start(), start)
            pos = m.end()
        add_sentence(out, chunk, pos, len(chunk), start)
    return out
