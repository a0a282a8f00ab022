"""One RE2 pass over a view that says which cue patterns can match in it at all.

The rule path scans each view with some thirty alternations (cue sections and frames); on a typical
answer most of them find nothing, and Python's backtracking engine still tries every position. An
RE2 set of the same patterns, *relaxed* (every zero-width assertion removed: look-arounds, anchors,
word boundaries), reads the text once in linear time; a pattern whose relaxed form matches nowhere
cannot match in the text, nor in any part of it (a relaxed pattern only ever matches more), so its
Python scan is skipped. Patterns that do match are scanned exactly as before: findings are unchanged.

Only ASCII text is prefiltered (Python's \\w and \\s know Unicode, RE2's do not); any other text, or
a set RE2 gives up on, falls back to scanning every pattern.

Where it runs: a frame scan without a cue set (frames.py). The shipped cue sections and the refusal
categories have none: RE2 builds a set's DFA lazily from the text it reads, and over many sections
that cost 2-3 ms/KB on answers it had not read before (cues.py; refusals.py for the categories).
"""

from __future__ import annotations

import re
import sys
from bisect import bisect_left
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

import re2

from llmvet.validators.uncertainty.standins import StandIns


class Pattern(Protocol):
    """What the rule path calls on a cue pattern: a compiled `re.Pattern` or a `Windowed` one."""

    @property
    def pattern(self) -> str: ...

    def search(self, string: str, pos: int = ..., endpos: int = ...) -> re.Match[str] | None: ...

    def match(self, string: str, pos: int = ..., endpos: int = ...) -> re.Match[str] | None: ...

    def findall(self, string: str, pos: int = ..., endpos: int = ...) -> list[Any]: ...

    def finditer(self, string: str, pos: int = ..., endpos: int = ...) -> Iterator[re.Match[str]]: ...


_ZERO_WIDTH_ESCAPES = frozenset("bBAZz")
_LOOKAROUNDS = ("(?=", "(?!", "(?<=", "(?<!")
_UNSUPPORTED = ("(?P=", "(?(", "(?>", "(?#")
_QUANTIFIERS = frozenset("*+?{")
# Characters Python's \s matches that RE2's does not: text holding them is not prefiltered.
_PYTHON_ONLY_SPACE = re.compile(r"[\x0b\x1c-\x1f]")
# Trying the pattern position by position costs several times what a native scan costs per character:
# it pays only while the windows cover less than 1/_WINDOWED_SHARE of the text.
_WINDOWED_SHARE = 8
_MAX_MEM = 64 << 20  # RE2's DFA budget for the set (it gives up, and we scan everything, beyond it)


def _class_end(pattern: str, i: int) -> int:
    """Index just past the character class opening at `i`."""
    j = i + 1
    if pattern.startswith("^", j):
        j += 1
    if pattern.startswith("]", j):
        j += 1
    while j < len(pattern) and pattern[j] != "]":
        j += 2 if pattern[j] == "\\" else 1
    return j + 1


def _group_end(pattern: str, i: int) -> int:
    """Index just past the group opening at `i`."""
    depth, j = 0, i
    while j < len(pattern):
        c = pattern[j]
        if c == "\\":
            j += 2
            continue
        if c == "[":
            j = _class_end(pattern, j)
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    return j


def relaxed(pattern: str) -> str | None:
    """`pattern` without its zero-width assertions (so it matches wherever the original does, and in
    any substring it matched in), or None when it uses a construct this cannot relax safely."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        start = i
        if c == "\\":
            nxt = pattern[i + 1 : i + 2]
            if nxt.isdigit() or nxt in ("N", "g"):
                return None  # backreferences, named characters
            i += 2
            if nxt not in _ZERO_WIDTH_ESCAPES:
                out.append(pattern[start:i])
                continue
        elif c == "[":
            i = _class_end(pattern, i)
            out.append(pattern[start:i])
            continue
        elif c in "^$":
            i += 1
        elif pattern.startswith(_UNSUPPORTED, i):
            return None
        elif pattern.startswith(_LOOKAROUNDS, i):
            i = _group_end(pattern, i)
        else:
            out.append(c)
            i += 1
            continue
        if i < n and pattern[i] in _QUANTIFIERS:
            return None  # a quantified assertion: dropping it would leave the quantifier on something else
    return "".join(out)


def _re2_source(rx: re.Pattern[str]) -> str | None:
    if rx.flags & re.VERBOSE:
        return None
    body = relaxed(rx.pattern)
    if body is None:
        return None
    flags = ("s" if rx.flags & re.DOTALL else "") + ("i" if rx.flags & re.IGNORECASE else "")
    return f"(?{flags}:{body})" if flags else body


class Delegating:
    """A compiled pattern `rx` bound to one text: `search`, `match` and `findall` go to the pattern
    itself; subclasses make `finditer` over that text cheaper (Windowed here, starts.Indexed)."""

    __slots__ = ("rx", "text")
    rx: re.Pattern[str]
    text: str

    @property
    def pattern(self) -> str:
        return self.rx.pattern

    def search(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        return self.rx.search(string, pos, endpos)

    def match(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        return self.rx.match(string, pos, endpos)

    def findall(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> list[Any]:
        return self.rx.findall(string, pos, endpos)


class Windowed(Delegating):
    """A cue pattern as scans of one text see it: its full scan (`finditer(text)`) tries the Python
    pattern only inside the spans where its relaxed RE2 form matched (every match of the pattern
    starts inside one of them: see `windows`); any other call goes to the pattern itself, as does the
    full scan where the windows cover much of the text."""

    __slots__ = ("_data", "_inside", "_relaxed", "_spans")

    def __init__(
        self, rx: re.Pattern[str], relaxed_rx: Any, text: str, data: bytes, inside: list[int] | None = None
    ) -> None:
        self.rx = rx
        self.text = text
        self._data = data  # `text` as RE2 reads it (UTF-8: see standins.py); offsets mapped back in `windows`
        self._inside = inside  # (`continuations(data)`, shared by the patterns of one text)
        self._relaxed = relaxed_rx
        self._spans: list[tuple[int, int]] | None = None  # `windows`, worked out on first use

    def windows(self) -> list[tuple[int, int]]:
        """Merged [start, end] ranges (inclusive) one of which every match of the pattern starts in."""
        if self._spans is None:
            spans = windows(self._relaxed, self._data)
            if len(self._data) != len(self.text):
                if self._inside is None:
                    self._inside = continuations(self._data)
                spans = _in_characters(spans, self._inside)
            self._spans = spans
        return self._spans

    def can_start_in(self, string: str, pos: int, endpos: int) -> bool:
        """False when no match of `search(string, pos, endpos)` can exist: no window reaches into
        [pos, endpos] (a match found with the string cut at endpos is text the relaxed pattern matches
        too, so it starts inside a window as well: see `windows`)."""
        if string is not self.text:
            return True
        spans = self.windows()
        i = bisect_left(spans, (pos, -1))
        if i and spans[i - 1][1] >= pos:  # the window before starts earlier and reaches pos
            return True
        return i < len(spans) and spans[i][0] <= endpos

    def finditer(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> Iterator[re.Match[str]]:
        if string is not self.text or pos or endpos < len(string):
            return self.rx.finditer(string, pos, endpos)
        return iter(self._windowed())

    def _windowed(self) -> list[re.Match[str]]:
        """The matches `rx.finditer(text)` gives, in order: leftmost first, each search going on
        where the last match ended."""
        text, rx, out = self.text, self.rx, []
        spans = self.windows()
        if sum(end - start for start, end in spans) * _WINDOWED_SHARE > len(text):
            return list(rx.finditer(text))  # windows cover much of the text: one native scan is cheaper
        pos = 0
        for start, end in spans:
            p = max(start, pos)
            while p <= end:
                m = rx.match(text, p)
                if m is None:
                    p += 1
                    continue
                if m.end() == m.start():
                    return list(rx.finditer(text))  # empty matches: finditer's rules, not re-implemented
                out.append(m)
                p = pos = m.end()
        return out


def windows(relaxed_rx: Any, text: bytes) -> list[tuple[int, int]]:
    """Merged [start, end] ranges (both inclusive) of the relaxed pattern's matches in `text`.

    Every match of the original pattern starts inside one: the relaxed pattern matches at that
    start too, so its leftmost-first scan either starts a match there or is inside a match that
    began earlier and reaches it."""
    out: list[tuple[int, int]] = []
    for a, b in _spans(relaxed_rx, text):
        if out and a <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


_CONTINUATION = re.compile(rb"[\x80-\xbf]")  # a byte inside a UTF-8 character (not its first)


def continuations(data: bytes) -> list[int]:
    """Offsets of the UTF-8 bytes that do not start a character."""
    return [m.start() for m in _CONTINUATION.finditer(data)]


def _in_characters(spans: list[tuple[int, int]], inside: list[int]) -> list[tuple[int, int]]:
    """Window spans in UTF-8 byte offsets (`inside`: `continuations` of the bytes) as character offsets,
    widened to whole characters: a start inside a character goes back to it, an end inside one forward
    past it (windows stay supersets)."""

    def chars_before(byte: int) -> int:  # characters that start before `byte`
        return byte - bisect_left(inside, byte)

    return [(chars_before(a + 1) - 1, chars_before(b)) for a, b in spans]


_UNANCHORED = getattr(getattr(getattr(re2, "_re2", None), "RE2", None), "Anchor", None)


def _spans(relaxed_rx: Any, text: bytes) -> Iterator[tuple[int, int]]:
    """`m.span() for m in relaxed_rx.finditer(text)`, calling RE2 directly as the wrapper's finditer does
    for bytes (its match objects cost more than the match); through the wrapper if its inside differs."""
    match = getattr(getattr(relaxed_rx, "_regexp", None), "Match", None)
    if match is None or _UNANCHORED is None:
        yield from (m.span() for m in relaxed_rx.finditer(text))
        return
    pos, end, anchor = 0, len(text), _UNANCHORED.UNANCHORED
    while True:
        a, b = match(anchor, text, pos, end)[0]
        if a == -1:
            return
        yield a, b
        if pos == end:
            return
        pos = pos + 1 if pos == b else b


class Prefilter:
    """Which of a fixed set of named patterns may match in a text, from one RE2 pass."""

    def __init__(self, patterns: Mapping[str, re.Pattern[str]]) -> None:
        options = re2.Options()
        options.max_mem = _MAX_MEM
        options.log_errors = False
        self._set = re2.Set.SearchSet(options)
        self._names: list[str] = []
        self._relaxed: dict[str, Any] = {}
        always: set[str] = set()
        for name, rx in patterns.items():
            source = _re2_source(rx)
            try:
                if source is None:
                    raise re2.error("not relaxable")
                self._set.Add(source)
                self._relaxed[name] = re2.compile(source, options)
            except re2.error:
                always.add(name)  # RE2 cannot read it: it is scanned every time
                continue
            self._names.append(name)
        self.always = frozenset(always)
        self._stand_ins = StandIns(patterns[name] for name in self._names)
        # Matches every text: when it is missing from an answer, RE2 gave up (out of memory).
        self._sentinel = self._set.Add("")
        self._set.Compile()

    def possible(self, text: str) -> frozenset[str] | None:
        """Names of the patterns that may match somewhere in `text`, or None when this text cannot be
        prefiltered (then every pattern must be scanned)."""
        data = self._data(text)
        return None if data is None else self._possible(data)

    def _data(self, text: str) -> bytes | None:
        """What RE2 reads for `text`: its UTF-8 bytes, non-ASCII characters read as their stand-ins (see
        standins.py); None when it cannot be read so."""
        readable = text if text.isascii() else self._stand_ins.readable(text)
        if readable is None or _PYTHON_ONLY_SPACE.search(readable):
            return None
        return readable.encode()

    def _possible(self, data: bytes) -> frozenset[str] | None:
        found = self._set.Match(data)
        if not found or self._sentinel not in found:
            return None
        names = self._names
        return self.always.union(names[i] for i in found if i != self._sentinel)

    def narrowed(self, patterns: Mapping[str, Pattern | None], text: str) -> dict[str, Pattern | None] | None:
        """`patterns` for scans of `text` (or any part of it): None for a pattern that cannot match
        there, a `Windowed` one for the rest; None when this text cannot be prefiltered."""
        data = self._data(text)
        possible = None if data is None else self._possible(data)
        if data is None or possible is None:
            return None
        out: dict[str, Pattern | None] = {}
        inside = continuations(data) if len(data) != len(text) else None
        for name, rx in patterns.items():
            if rx is None or name not in possible:
                out[name] = None
            elif name in self.always or not isinstance(rx, re.Pattern):
                out[name] = rx
            else:
                out[name] = Windowed(rx, self._relaxed[name], text, data, inside)
        return out
