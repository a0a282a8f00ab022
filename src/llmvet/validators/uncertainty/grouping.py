"""Cue entries under the first characters they can start with (cues.compile_list's grouped sections).

Long lists of multi-word phrases: grouping entries by first character behind a look-ahead lets the
engine skip most alternatives at each position (~2x faster); cues.py keeps the lists, this module the
grouping (moved out of cues.py, which had reached the 400-line cap).
"""

from __future__ import annotations

import re
from re import _parser as _sre_parse  # type: ignore[attr-defined]  # private (not in typeshed); see first_chars
from typing import Any


def first_chars(pattern: str) -> set[str] | None:
    """Characters an entry can start with, or None when that is not a small known set."""

    def first(items: Any) -> set[str] | None:
        for op, av in items:
            name = str(op)
            if name == "LITERAL":
                return {chr(av)}
            if name == "IN":
                out: set[str] = set()
                for o, a in av:
                    if str(o) == "LITERAL":
                        out.add(chr(a))
                    elif str(o) == "RANGE":
                        out |= {chr(c) for c in range(a[0], a[1] + 1)}
                    else:
                        return None
                return out
            if name == "SUBPATTERN":
                return first(av[3])
            if name == "BRANCH":
                out = set()
                for alt in av[1]:
                    f = first(alt)
                    if f is None:
                        return None
                    out |= f
                return out
            if name in ("MAX_REPEAT", "MIN_REPEAT") and av[0] > 0:
                return first(av[2])
            return None
        return None

    try:
        found = first(list(_sre_parse.parse(pattern)))
    except Exception:  # any parser quirk just means "ungrouped"
        return None
    return found if found and len(found) <= 3 else None


def groups(parts: list[str]) -> list[tuple[str | None, list[str]]]:
    """The entries under the first characters they start with (None: not a small known set), in the
    order the grouped pattern tries them."""
    groups: dict[str, list[str]] = {}
    other: list[str] = []
    for p in parts:
        chars = first_chars(p)
        if chars is None:
            other.append(p)
        else:
            groups.setdefault("".join(sorted(chars)), []).append(p)
    return [*groups.items(), *((None, [p]) for p in other)]


def grouped_body(parts: list[str]) -> str:
    return "|".join(
        f"(?:{g[0]})" if k is None else f"(?=[{re.escape(k)}])(?:" + "|".join(f"(?:{p})" for p in g) + ")"
        for k, g in groups(parts)
    )
