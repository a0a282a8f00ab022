"""Reading answer text: Markdown code fences, prose sentences, and the text of OpenAI message shapes.

A leaf module: validators, the proxy and the review queue all read text the same way through it.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from typing import Any

# Fences are found in linear time: a single regex re-scanned to the end of the text for every unclosed
# opener (quadratic: 40 KB of "```a" lines held the event loop for 5 s). These two patterns say what
# an opening and a closing fence line are; find_fences reads them with string methods, only on the
# lines that begin with a marker (letting `^` patterns try every position costs ~15x more).
_FENCE_OPEN = re.compile(r"^[ \t]*(```|~~~)([^\n`]*)\n", re.M)
_FENCE_CLOSE = re.compile(r"^[ \t]*(```|~~~)[ \t]*$", re.M)
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
    closers: dict[str, list[tuple[int, int]]] = {"```": [], "~~~": []}
    openers: list[tuple[int, int, str, str]] = []  # (line start, code start, marker, info string)
    for line, p in _fence_lines(text):
        # what _FENCE_CLOSE and _FENCE_OPEN match at `line`, read with string methods (~10x faster)
        marker = text[p : p + 3]
        eol = text.find("\n", p + 3)
        rest = text[p + 3 : len(text) if eol < 0 else eol]
        if not rest.strip(" \t"):
            closers[marker].append((line, len(text) if eol < 0 else eol))
        if eol >= 0 and "`" not in rest:
            openers.append((line, eol + 1, marker, rest))
    starts = {k: [s for s, _ in v] for k, v in closers.items()}
    out: list[tuple[int, int, str, int, int]] = []
    pos = 0
    for start, code, marker, info in openers:
        if start < pos:
            continue  # inside the block just found
        i = bisect_left(starts[marker], code)
        if i == len(starts[marker]):
            if open_ended:
                out.append((start, len(text), info, code, len(text)))
                break
            continue
        close_start, close_end = closers[marker][i]
        out.append((start, close_end, info, code, close_start))
        pos = close_end
    return out


def _fence_lines(text: str) -> list[tuple[int, int]]:
    """(line start, marker start) of each line whose first character other than blanks begins a fence
    marker, in order: the only places where `_FENCE_OPEN` or `_FENCE_CLOSE` can match."""
    found: list[tuple[int, int]] = []
    for marker in ("```", "~~~"):
        p = text.find(marker)
        while p >= 0:
            if p == 0 or text[p - 1] == "\n":
                found.append((p, p))
            else:
                line = text.rfind("\n", 0, p) + 1
                if not text[line:p].strip(" \t"):
                    found.append((line, p))
            p = text.find(marker, p + 3)
    found.sort()
    return found


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


def content_text(content: Any) -> str:
    """Text of an OpenAI message content: a string or a list of typed parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


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
