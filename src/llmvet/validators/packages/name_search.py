"""Where a module name stands in answer text, read with string methods: each function gives exactly
what a regex built from the name would match (tests/validators/packages/test_fast_paths.py compares
them), without compiling a pattern per name (a cold compile costs more than the search)."""

from __future__ import annotations

import re
from collections.abc import Iterator

_TREE_PREFIX = re.compile(r"[ \t│├└─|`+*-]*")  # what may stand before a folder's name in a tree line
_EXT_WORDS = ("py", "js", "ts", "jsx", "tsx", "mjs", "cjs")  # what `.ext\b` may read after a module name


def occurrences(text: str, name: str) -> Iterator[int]:
    """Every index where `name` occurs in `text`, overlapping ones too (as a regex tries each start)."""
    i = text.find(name)
    while i >= 0:
        yield i
        i = text.find(name, i + 1)


def word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"  # (what a str regex's \w matches)


def defined_at(text: str, i: int, n: int) -> bool:
    r"""Does the name at text[i:i+n] stand where `name(?:/[\w./-]*)?\.py\b`, `name\.(?:js|ts|...)\b` (both
    not after [\w.-]) or a tree line's `^[ \t│├└─|`+*-]*name/[ \t]*(?:#.*)?$` would match? String
    methods, no regex per name: compiling four per module name cost more than the searches."""
    end = i + n
    nxt = text[end : end + 1]
    if nxt == "/":
        eol = text.find("\n", end)
        eol = len(text) if eol < 0 else eol
        rest = text[end + 1 : eol].lstrip(" \t")
        if (not rest or rest[0] == "#") and _TREE_PREFIX.fullmatch(text, text.rfind("\n", 0, i) + 1, i):
            return True
    if i and (word(text[i - 1]) or text[i - 1] in ".-"):
        return False
    if nxt == "/":  # `/[\w./-]*` then `.py\b`: a `.py` inside that run, no word character after it
        run = end + 1
        while run < len(text) and (word(text[run]) or text[run] in "./-"):
            run += 1
        k = text.find(".py", end + 1, run)
        while k >= 0:
            if k + 3 >= len(text) or not word(text[k + 3]):
                return True
            k = text.find(".py", k + 1, run)
        return False
    if nxt != ".":
        return False
    for ext in _EXT_WORDS:
        if text.startswith(ext, end + 1) and (end + 1 + len(ext) >= len(text) or not word(text[end + 1 + len(ext)])):
            return True
    return False


def from_module_at(s: str, module: str) -> int:
    r"""Where `module` starts in the first match of `\bfrom\s+(module)\b` in `s`, or -1: string methods,
    not a regex compiled for each module name."""
    j = s.find("from")
    while j >= 0:
        k = j + 4
        while k < len(s) and s[k].isspace():
            k += 1
        if (j == 0 or not word(s[j - 1])) and k > j + 4 and s.startswith(module, k):
            end = k + len(module)
            if word(s[end - 1]) != (end < len(s) and word(s[end])):  # (\b: a word character on one side)
                return k
        j = s.find("from", j + 1)
    return -1
