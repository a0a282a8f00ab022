"""A list's entries that read ahead through a run, left out where the text has none of their words.

Why: `refusal_support` begins with `[^.!?\\n]*(?:helpline|hotline|...)`. Matched at a sentence's start
(refusals._Asides, once per sentence of a refused answer) that entry reads to the end of the sentence
and back, trying its words at every character: 1.7 of the 2.0 us the whole list cost a sentence, on
sentences from distinct ~1 KB answers, and its words are in few answers.

What: `lean(rx)` splits a compiled list (cues.compile_list: its entries joined inside WRAP, not
grouped) back into its entries, finds those that begin with such a run, and returns the list compiled
without them, with strings one of which every match of those entries holds (alternatives.required).
A match of a list inside some part of a text is a match of one of its entries there, and holds one of
that entry's strings: where the text holds none of the scanning entries' strings, the lean list
matches in a part of it exactly where the whole list does. (Only whether it matches: the entry that
matches first, and group numbers, may differ; a list whose entries refer to groups is not split.)
tests/validators/uncertainty/test_scanners.py checks the split and both answers.
"""

from __future__ import annotations

import re
from functools import lru_cache
from re import _parser as _sre_parse  # type: ignore[attr-defined]  # private (not in typeshed)

from llmvet.validators.uncertainty.alternatives import _REPEATS, WRAP, required
from llmvet.validators.uncertainty.firsts import top_level

_HEAD, _TAIL = WRAP.split("{}")
_LONG_RUN = 16  # a leading repeat that may read more characters than this scans the text


class Lean:
    """A list without its scanning entries, and the strings one of which each of their matches holds."""

    __slots__ = ("needs", "rx")

    def __init__(self, rx: re.Pattern[str] | None, needs: tuple[str, ...]) -> None:
        self.rx = rx  # None: every entry scans
        self.needs = needs

    def may_scan(self, text: str) -> bool:
        """Can a scanning entry match in some part of `text`? (False: `rx` answers as the whole list.)"""
        return any(s in text for s in self.needs)


def lean(rx: object) -> Lean | None:
    """The list `rx` without its scanning entries (None: not a compiled list, or none to leave out)."""
    if not isinstance(rx, re.Pattern):
        return None
    return _lean(rx.pattern, rx.flags)


@lru_cache(maxsize=64)
def _lean(pattern: str, flags: int) -> Lean | None:
    if not (pattern.startswith(_HEAD) and pattern.endswith(_TAIL)) or re.search(r"\\[1-9]|\(\?P=|\(\?#", pattern):
        return None
    entries = split_entries(pattern[len(_HEAD) : len(pattern) - len(_TAIL)])
    if entries is None:
        return None
    kept: list[str] = []
    needs: set[str] = set()
    for entry in entries:
        need = required(entry, flags) if _scans(entry, flags) else None
        if need is None:
            kept.append(entry)
        else:
            needs |= need
    if not needs:
        return None
    body = "|".join(f"(?:{e})" for e in kept)
    return Lean(re.compile(WRAP.format(body), flags) if kept else None, tuple(sorted(needs)))


def split_entries(body: str) -> list[str] | None:
    """The entries of `"|".join(f"(?:{e})" for e in entries)` (None: `body` is not such a join)."""
    entries = top_level(body)
    if entries is None:
        return None
    inner = [e[3:-1] for e in entries if e.startswith("(?:") and e.endswith(")")]
    if len(inner) != len(entries) or "|".join(f"(?:{e})" for e in inner) != body:
        return None
    try:
        for e in inner:
            re.compile(e)
    except re.error:
        return None
    return inner


def _scans(entry: str, flags: int) -> bool:
    """Does `entry` begin with a repeat that may read a long run of the text?"""
    try:
        tree = list(_sre_parse.parse(entry, flags))
    except re.error:
        return False
    if not tree or tree[0][0] not in _REPEATS:
        return False
    _, high, _ = tree[0][1]
    return bool(high > _LONG_RUN)
