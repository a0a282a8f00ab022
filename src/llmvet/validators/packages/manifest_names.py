"""Where an answer names a manifest file (requirements.txt, pyproject.toml, setup.py, package.json...):
the file-name pattern, the cheap tests that say it cannot match, and which manifest a name means."""

from __future__ import annotations

import re
from bisect import bisect_left

from llmvet.validators.packages import scan
from llmvet.validators.packages.name_search import occurrences

__all__ = ["FILENAME", "FileWords", "could_name_file", "kind_of", "last_mention"]

FILENAME = re.compile(
    r"(?<![\w-])(requirements[\w.-]*\.(?:txt|in)|requirements file|constraints\.txt|pyproject\.toml|setup\.py|setup\.cfg|Pipfile|package\.json)\b",
    re.I,
)
FILENAME_WORDS = (
    "requirements",
    "constraints.txt",
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "pipfile",
    "package.json",
)
# The non-ASCII letters re.IGNORECASE matches to ASCII ones (FILENAME may match "\u017fetup.py")
_ASCII_FOLD = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})


def kind_of(fn: str) -> str:
    fn = (fn if fn.isascii() else fn.translate(_ASCII_FOLD)).lower()  # (translate reads a dict per character)
    if fn.startswith(("requirements", "constraints")):
        return "requirements"
    return {
        "pyproject.toml": "pyproject",
        "setup.py": "setup.py",
        "setup.cfg": "setup.cfg",
        "pipfile": "pipfile",
        "package.json": "package.json",
    }[fn]


class FileWords:
    """Where an answer may name a manifest file: the places `could_name_file` would say yes for any
    part of the text (one look at the whole answer instead of three per code block, and none for an
    answer without code blocks: the text is read when first asked about)."""

    __slots__ = ("_ascii", "_starts", "_text")

    def __init__(self, text: str, starts: list[int] | None = None) -> None:
        self._text = text
        self._ascii = text.isascii()
        self._starts = starts  # (given: the word starts marks.py found, else read when first asked)

    def _word_starts(self) -> list[int]:
        # where each of the words starts, ignoring ASCII case (overlapping ones too): str.find over the
        # text as lower-cased ASCII bytes ("?" for every other character, so the same offsets), one
        # search per word in C (a non-ASCII character, "?" there, is in a region probed as before anyway).
        # (An RE2 pass of the words ignoring case cost ~4x as much: no literal to skip ahead to.)
        low = scan.ascii_view(self._text).lower()
        starts: list[int] = []
        for w in _FILENAME_WORD_BYTES:
            i = low.find(w)
            while i >= 0:
                starts.append(i)
                i = low.find(w, i + 1)
        starts.sort()  # (no word is a prefix of another: no position twice)
        return starts

    def any(self) -> bool:
        """False when no part of the text can name a file (may_name says no for every region)."""
        if self._starts is None:
            self._starts = self._word_starts()
        return bool(self._starts) or not self._ascii

    def may_name(self, lo: int, hi: int) -> bool:
        """False when no part of text[lo:hi] can name a file (it is ASCII and holds none of the words)."""
        if self._starts is None:
            self._starts = self._word_starts()
        i = bisect_left(self._starts, lo)
        if i < len(self._starts) and self._starts[i] < hi:
            return True
        return not self._ascii and not self._text[lo:hi].isascii()


_FILENAME_WORD_BYTES = tuple(w.encode() for w in FILENAME_WORDS)  # (all lower case)
_DOTLESS_WORDS = tuple(w for w in FILENAME_WORDS if "." not in w)


def could_name_file(s: str) -> bool:
    """False when `FILENAME` cannot match in `s` (ASCII without any of the names: checked with string
    methods, as the pattern's look-behind makes the engine try it at every position)."""
    if not s.isascii():
        return True  # ignoring case, some other characters match ASCII letters ("\u017f" is an "s")
    low = s.lower()
    # (most info strings and first lines hold no dot: only the words without one can stand in them)
    words = FILENAME_WORDS if "." in s else _DOTLESS_WORDS
    for w in words:  # noqa: SIM110 - a loop costs a third of any() over a generator (most blocks)
        if w in low:
            return True
    return False


def last_mention(before: str) -> re.Match[str] | None:
    """The last match of `FILENAME.finditer(before)`. In ASCII text every match starts where one of the
    file words does (ignoring case): the pattern, whose look-behind the engine tries at every position,
    is tried only there, in order, each past the previous match (as finditer goes on)."""
    if not before.isascii():
        return ([None, *FILENAME.finditer(before)])[-1]
    last = None
    low = before.lower()
    done = 0
    starts: list[int] = []
    for w in FILENAME_WORDS:
        if w in low:  # (most words are not there: no generator made, no find call with its argument parsing)
            starts.extend(occurrences(low, w))
    for i in sorted(starts):
        if i >= done and (m := FILENAME.match(before, i)) is not None:
            last, done = m, m.end()
    return last
