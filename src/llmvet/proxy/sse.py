"""Server-sent events as the OpenAI API uses them: `data: {json}` events, ending in `data: [DONE]`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson


class StreamError(Exception):
    """The upstream stream could not be parsed (or holds an event over the parser's limit).

    `events` are the ones the failing chunk completed before the failure, `rest` the bytes from the
    failing event on: together, everything not returned yet (for a relay that gives up parsing)."""

    def __init__(self, message: str, events: list[Event] | None = None, rest: bytes = b"") -> None:
        super().__init__(message)
        self.events = events or []
        self.rest = rest


@dataclass(slots=True)
class Event:
    raw: bytes  # the event as received (line ends as LF), including its blank-line terminator
    event: str | None
    data: Any  # parsed JSON, or the string "[DONE]"


_SHORT = 16 * 1024  # an unfinished event shorter than this is joined with each read at once


class SSEParser:
    """Incremental parser: feed bytes, get complete events (keeping each event's raw bytes).

    Lines end in LF, CRLF or a lone CR, as the SSE standard and the openai SDK read them; each becomes
    LF before parsing, so an event's raw bytes (the ones relayed) read to any client as they read to
    llmvet. An unfinished event waits in `pending`; past `limit` bytes of it, StreamError.
    """

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        self._buf = b""  # the start of an unfinished event
        self._more: list[bytes] = []  # reads after a long _buf, none of which can end it (joined when one does)
        self._size = 0  # bytes in _buf and _more, while _more is in use
        self._cr = False  # the last read ended in CR: a LF that starts the next one is part of that line end

    def feed(self, chunk: bytes) -> list[Event]:
        if self._cr:
            self._cr = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if b"\r" in chunk:
            self._cr = chunk[-1:] == b"\r"
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        buf = self._buf
        if not buf:
            buf = chunk
        elif len(buf) < _SHORT:
            buf += chunk  # a short wait: a copy is cheaper than a list
        elif b"\n\n" in chunk or (chunk[:1] == b"\n" and (self._more or [buf])[-1][-1:] == b"\n"):
            buf = b"".join((buf, *self._more, chunk))
            self._more = []
        else:  # a long event goes on: keep the read, copy nothing (else a never-ending event costs n**2)
            if chunk:
                self._size = (self._size if self._more else len(buf)) + len(chunk)
                self._more.append(chunk)
            if self.limit is not None and self._size > self.limit:
                self._overflow([])
            return []
        events: list[Event] = []
        pos = 0
        while (end := buf.find(b"\n\n", pos)) >= 0:  # walk the buffer once: many events may share a chunk
            try:
                if buf.startswith(b"data: {", pos) and buf.find(b"\n", pos, end) < 0:  # one JSON line: most events
                    ev: Event | None = _data_event(buf[pos : end + 2], None, buf[pos + 6 : end])
                else:
                    ev = _parse_block(buf[pos : end + 2])
            except StreamError as exc:
                self._buf = b""
                raise StreamError(str(exc), events, buf[pos:]) from None
            if ev is not None:
                events.append(ev)
            pos = end + 2
        self._buf = buf[pos:] if pos else buf
        if self.limit is not None and len(self._buf) > self.limit:
            self._overflow(events)
        return events

    def _overflow(self, events: list[Event]) -> None:
        rest = self.pending
        self._buf, self._more = b"", []
        raise StreamError(f"an event is over the {self.limit}-byte limit", events, rest)

    @property
    def pending(self) -> bytes:
        return b"".join((self._buf, *self._more)) if self._more else self._buf


def _parse_block(block: bytes) -> Event | None:
    if block.startswith(b"data: ") and block.find(b"\n", 6) == len(block) - 2:  # one data line: most events
        return _data_event(block, None, block[6:-2])
    name: str | None = None
    data_lines: list[bytes] = []
    for line in block.split(b"\n"):
        if not line or line.startswith(b":"):
            continue  # blank line or SSE comment (keep-alive)
        field, _, value = line.partition(b":")
        if value.startswith(b" "):
            value = value[1:]
        if field == b"data":
            data_lines.append(value)
        elif field == b"event":
            name = value.decode("utf-8", "replace")
    if not data_lines:
        return None if name is None else Event(block, name, None)
    return _data_event(block, name, b"\n".join(data_lines))


def _data_event(block: bytes, name: str | None, payload: bytes) -> Event:
    if payload.strip() == b"[DONE]":
        return Event(block, name, "[DONE]")
    try:
        return Event(block, name, orjson.loads(payload))
    except orjson.JSONDecodeError:
        raise StreamError(f"upstream sent a malformed SSE event: {payload[:120]!r}") from None


def encode(data: Any, event: str | None = None) -> bytes:
    """One SSE event in the framing the OpenAI SDK expects."""
    head = f"event: {event}\n".encode() if event else b""
    body = data.encode() if isinstance(data, str) else orjson.dumps(data)
    return head + b"data: " + body + b"\n\n"
