"""The pattern interface the rule path calls, and the base of patterns bound to one text."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from typing import Any, Protocol


class Pattern(Protocol):
    """What the rule path calls on a cue pattern: a compiled `re.Pattern` or one bound to a text (`Delegating`)."""

    @property
    def pattern(self) -> str: ...

    def search(self, string: str, pos: int = ..., endpos: int = ...) -> re.Match[str] | None: ...

    def match(self, string: str, pos: int = ..., endpos: int = ...) -> re.Match[str] | None: ...

    def findall(self, string: str, pos: int = ..., endpos: int = ...) -> list[Any]: ...

    def finditer(self, string: str, pos: int = ..., endpos: int = ...) -> Iterator[re.Match[str]]: ...


class Delegating:
    """A compiled pattern `rx` bound to one text: `search`, `match` and `findall` go to the pattern
    itself; subclasses make `finditer` over that text cheaper (starts.Indexed)."""

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
