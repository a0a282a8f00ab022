"""A view with runs of blanks squeezed to one space, and the way back to the view's offsets (text.Views)."""

from __future__ import annotations

import re
from bisect import bisect_right
from itertools import accumulate, count, repeat
from operator import add
from typing import Any

_RUN = re.compile(r"[ \t]{2,}")
_AFTER_BLANK = re.compile(r"(?<=[ \t])[ \t]+")  # a run's characters after its first
_SPACES = re.compile(r"  +")  # (a run without a tab: the same, faster)
_RUN_PARTS = re.compile(r"([ \t])([ \t]+)")  # a run split: its first character (kept), the rest (removed)
# (without a tab: the rest but its first space; a pattern that begins with one space was tried at each
# space, one with two only at the runs: 55 M instructions against 29 on the prose of the benchmark pass)
_SPACE_PARTS = re.compile(r"  ( *)")
# Below this many characters blank runs are squeezed with a regex (a run costs ~0.3 us); above it numpy
# does it in a few vectorised passes (5x faster on 10 KB). numpy is imported only then: `llmvet scan`
# of a short document starts without it.
_NUMPY_FROM = 3000


class Compact:
    """A view with runs of blanks squeezed to one space (cue lists use single spaces), and the way back.

    A character goes when it and the one before it are both blanks (a run keeps its first character)."""

    __slots__ = ("_cps", "_keep", "_kept", "_offs", "_removed", "_source", "text")

    def __init__(self, source: str, mapped: bool = False) -> None:
        """`mapped`: the way back is worked out with the squeeze, in the same pass (for a view whose spans
        are mapped on most answers); otherwise on first use."""
        self._kept: Any = None  # numpy: source offset of each compact character, worked out on first use
        self._keep: Any = None  # numpy: which characters stay; None: all of them
        self._removed = 0
        # regex: compact positions where a new offset starts, and the characters removed before each
        self._cps: list[int] = [0]
        self._offs: list[int] = [0]
        self._source: str | None = None  # (regex) the text squeezed, until its offsets are worked out
        if len(source) >= _NUMPY_FROM:
            self.text = self._squeeze_numpy(source)
            return
        if mapped:
            self.text = self._squeeze_mapped(source)
            return
        # (one substitution in C; the way back is worked out only when a span is mapped: most views have
        # no hit, and code blanked in the prose leaves a run of blanks on every line)
        self.text = _AFTER_BLANK.sub("", source) if "\t" in source else _SPACES.sub(" ", source)
        if len(self.text) != len(source):
            self._source = source

    def _offsets(self, source: str) -> None:
        removed = 0
        # (`_SPACES` without a tab: a pattern that begins with a literal is searched for, one that begins
        # with a class tried at every position, 15 us against 5 on a 1 KB answer with a code block)
        for m in (_RUN if "\t" in source else _SPACES).finditer(source):
            a, b = m.span()
            self._cps.append(a + 1 - removed)
            removed += b - a - 1
            self._offs.append(removed)

    def _squeeze_mapped(self, source: str) -> str:
        """The squeezed text and the way back from one split at the runs (in C; `_offsets` found the runs
        again, one match object each: 15 us against 7 on the prose of a distinct ~1 KB answer)."""
        if "\t" in source:
            parts = _RUN_PARTS.split(source)  # text, first, rest, text, first, rest, ..., text
            removed = map(len, parts[2::3])
            del parts[2::3]  # text, first, text, first, ..., text
            squeezed = "".join(parts)
            kept = parts[::2]
        else:
            parts = _SPACE_PARTS.split(source)  # text, rest but one, text, rest but one, ..., text
            removed = map(add, map(len, parts[1::2]), repeat(1))
            kept = parts[::2]
            squeezed = " ".join(kept)
        # after run i: the compact offset past its first character, and the characters removed up to there
        self._cps += map(add, accumulate(map(len, kept[:-1])), count(1))
        self._offs += accumulate(removed)
        return squeezed

    def _squeeze_numpy(self, source: str) -> str:
        import numpy as np

        if source.isascii():
            codes, encoding = np.frombuffer(source.encode("ascii"), np.uint8), "ascii"
        else:
            codes, encoding = np.frombuffer(source.encode("utf-32-le", "surrogatepass"), "<u4"), "utf-32-le"
        blank = (codes == 32) | (codes == 9)
        drop = np.zeros(len(codes), bool)
        np.logical_and(blank[1:], blank[:-1], out=drop[1:])
        if not drop.any():
            return source
        self._keep = ~drop
        self._removed = int(drop.sum())
        return str(codes[self._keep].tobytes().decode(encoding, "surrogatepass"))

    @classmethod
    def of(cls, s: str) -> Compact:
        return cls(s)

    def orig(self, pos: int) -> int:
        if self._keep is None:
            if self._source is not None:
                self._offsets(self._source)
                self._source = None
            return pos + self._offs[bisect_right(self._cps, pos) - 1]
        if self._kept is None:
            import numpy as np

            self._kept = np.flatnonzero(self._keep)
        return int(self._kept[pos]) if pos < len(self.text) else pos + self._removed

    def span(self, a: int, b: int) -> tuple[int, int]:
        if self._keep is None and self._source is None:  # (`orig` twice, inline: ~9,000 spans a benchmark pass)
            cps, offs = self._cps, self._offs
            start = a + offs[bisect_right(cps, a) - 1]
            return (start, b + offs[bisect_right(cps, b - 1) - 1]) if b > a else (start, start)
        return self.orig(a), self.orig(b - 1) + 1 if b > a else self.orig(a)
