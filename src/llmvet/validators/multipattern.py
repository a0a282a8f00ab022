"""Many patterns matched in one pass over a byte string: vectorscan, through the `pyperscan` binding.

Why this binding: the `hyperscan` wheel (0.9.1, vectorscan 5.4.12) misses matches in a database of
several patterns that it finds with a pattern alone: two uncertainty gates with the same opening
(`frame.pro_drop` and `frame.pro_drop_degree`) in one database, over a text where the second gate's
words first stand without the opening, then with it, report nothing (vectorscan issue #358 describes
that class of miss). A gate that stays shut skips its cue list: a missed finding, not a slower one. A
differential fuzz (cue snippets spliced into answers, each gate's verdict against plain `re`) found 8
misses in 117,736 views with that wheel and none with pyperscan 0.4's engine; the older `hyperscan`
wheels without the regression (vectorscan 5.4.11) abort the process when torch is imported after them.
pyperscan's compiled databases cannot be saved, so each process compiles its own (~1.4 s of CPU for
the shipped cues, once per process: cues.load keeps them).

What: `Database(expressions, flags)` compiles (`CompileError` for an expression the engine does not
take); `scan(data, on_match)` calls `on_match(index, start, end)` for each match, `index` the
expression's place in the list (start is 0 unless the expression has SOM_LEFTMOST). A pyperscan
scanner holds its scratch space and may serve one thread at a time, and building one allocates that
space (~0.5 ms for the uncertainty gates): each thread builds one per database, once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

try:
    import pyperscan
    from pyperscan._pyperscan import HyperscanCompileError as _CompileError  # (not re-exported)

    _COMPILE_ERROR: type[Exception] = _CompileError  # type: ignore[assignment]  # (its stub has no base class)
except ImportError:  # pragma: no cover - a dependency wherever it has a wheel
    pyperscan = None  # type: ignore[assignment]

OnMatch = Callable[[int, int, int], object]

# Flags as bits, so callers can combine them without importing the binding.
CASELESS, MULTILINE, SINGLEMATCH, PREFILTER, SOM_LEFTMOST = 1, 2, 4, 8, 16
_FLAG_NAMES = {
    CASELESS: "CASELESS",
    MULTILINE: "MULTILINE",
    SINGLEMATCH: "SINGLEMATCH",
    PREFILTER: "PREFILTER",
    SOM_LEFTMOST: "SOM_LEFTMOST",
}


class CompileError(ValueError):
    """An expression the engine does not take."""


def available() -> bool:
    return pyperscan is not None


class _Slot:
    """What a thread's scanner calls: the current scan's callback (a scanner is bound to one context)."""

    __slots__ = ("on_match",)

    def __init__(self) -> None:
        self.on_match: OnMatch | None = None


_CONTINUE: Any = pyperscan.Scan.Continue if pyperscan is not None else None


def _relay(slot: _Slot, index: int, start: int, end: int) -> Any:
    slot.on_match(index, start, end)  # type: ignore[misc]  # (set before every scan)
    return _CONTINUE


class Database:
    """A compiled block-mode database of `expressions`, with one scanner per thread."""

    def __init__(self, expressions: Sequence[bytes], flags: Sequence[int]) -> None:
        if pyperscan is None:  # pragma: no cover - callers check available()
            raise CompileError("pyperscan is not installed")
        patterns = [
            pyperscan.Pattern(e, *(getattr(pyperscan.Flag, n) for bit, n in _FLAG_NAMES.items() if f & bit), tag=i)
            for i, (e, f) in enumerate(zip(expressions, flags, strict=True))
        ]
        try:
            self._db = pyperscan.BlockDatabase(*patterns)
        except _COMPILE_ERROR as exc:
            raise CompileError(str(exc)) from exc
        self._local = threading.local()

    def scan(self, data: bytes, on_match: OnMatch) -> None:
        local = self._local
        scanner = getattr(local, "scanner", None)
        if scanner is None:
            local.slot = _Slot()
            scanner = local.scanner = self._db.build(local.slot, _relay)
        local.slot.on_match = on_match
        scanner.scan(data)
