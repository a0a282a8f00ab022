"""Where each line of a rewritten text came from, so a finding in it points at the source file.

A reStructuredText literal block is handed to the validators as a Markdown fence: its directive
line becomes the fence opener, its options are dropped, its content is dedented and a closing fence
is added. Each line of that text keeps its source line, the source offset of its first character
and that character's column, so file:line:column (and span offsets) stay exact.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field


@dataclass(slots=True)
class LineMap:
    text_starts: list[int] = field(default_factory=list)  # offset in the text of each line's start
    lines: list[int] = field(default_factory=list)  # source line (from 1) of each text line
    source_starts: list[int] = field(default_factory=list)  # source offset of its first character
    columns: list[int] = field(default_factory=list)  # source column (from 1) of its first character

    def add(self, text_start: int, line: int, source_start: int, column: int) -> None:
        self.text_starts.append(text_start)
        self.lines.append(line)
        self.source_starts.append(source_start)
        self.columns.append(column)

    def shifted(self, lines: int, offset: int) -> LineMap:
        """The same map for a text that starts `lines` lines and `offset` characters into the source."""
        return LineMap(
            list(self.text_starts),
            [n + lines for n in self.lines],
            [s + offset for s in self.source_starts],
            list(self.columns),
        )

    def _row(self, pos: int) -> int:
        return max(0, bisect_right(self.text_starts, pos) - 1)

    def locate(self, pos: int) -> tuple[int, int]:
        """(line, column), both from 1, in the source, of an offset into the rewritten text."""
        k = self._row(pos)
        return self.lines[k], self.columns[k] + pos - self.text_starts[k]

    def source_offset(self, pos: int) -> int:
        k = self._row(pos)
        return self.source_starts[k] + pos - self.text_starts[k]
