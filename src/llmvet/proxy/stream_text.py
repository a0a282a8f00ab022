"""The text of one part of a streamed answer as it grows, kept so checks cost time linear in its length."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from llmvet.validators.base import KEEP_FROM, PartKind


class Tail:
    """The unchecked end of a growing text, indexed as if it were the whole text.

    Segment validators address a stream's text by absolute position; keeping it all as one string
    would copy everything so far on every event (quadratic in the stream's length). Text every
    validator has cleared is dropped; what remains is read through the same absolute positions.
    """

    __slots__ = ("base", "rest")

    def __init__(self) -> None:
        self.base = 0  # absolute position of rest[0]
        self.rest = ""

    def __len__(self) -> int:
        return self.base + len(self.rest)

    def __getitem__(self, key: int | slice) -> str:
        base = self.base
        if key.__class__ is slice:
            start, stop = key.start, key.stop
            start = 0 if start is None else start - base
            return self.rest[start:] if stop is None else self.rest[start : stop - base]
        return self.rest[key - base]  # type: ignore[operator]

    def find(self, sub: str, start: int = 0) -> int:
        i = self.rest.find(sub, max(start - self.base, 0))
        return i + self.base if i >= 0 else -1

    def drop_before(self, position: int) -> None:
        if position > self.base:
            self.rest = self.rest[position - self.base :]
            self.base = position


@dataclass
class StreamText:
    choice: int
    kind: PartKind
    name: str = "content"  # the part's key in its choice (e.g. "tool_call#0")
    pieces: list[str] = field(default_factory=list)  # every delta, joined once at the end
    tail: Tail = field(default_factory=Tail)
    length: int = 0
    released: int = 0  # every segment check has cleared the text up to here (-1: no check reads it)
    cleared: dict[str, int] = field(default_factory=dict)  # validator label -> released up to here
    state: dict[str, dict[str, Any]] = field(default_factory=dict)  # validator label -> its scratch space
    readers: list[Any] = field(default_factory=list)  # the segment validators reading it
    ahead: bool = False  # does any of them start work ahead (stream_ahead)?

    def add(self, delta: str) -> None:
        self.pieces.append(delta)
        self.tail.rest += delta
        self.length += len(delta)

    def keep_from(self, label: str) -> int:
        """Where a validator may still read from: its release point, or earlier if it said so (a fence)."""
        cleared = self.cleared.get(label, 0)
        return min(cleared, self.state.get(label, {}).get(KEEP_FROM, cleared))

    def whole(self) -> str:
        return "".join(self.pieces)
