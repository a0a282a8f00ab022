"""Server-sent events as the OpenAI API uses them: `data: {json}` events, ending in `data: [DONE]`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson


class StreamError(Exception):
    """The upstream stream was cut short or could not be parsed."""


@dataclass(slots=True)
class Event:
    raw: bytes  # the event exactly as received, including its blank-line terminator
    event: str | None
    data: Any  # parsed JSON, or the string "[DONE]"


class SSEParser:
    """Incremental parser: feed bytes, get complete events (keeping each event's raw bytes)."""

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, chunk: bytes) -> list[Event]:
        buf = self._buf + chunk if self._buf else chunk
        if b"\r" in buf:  # with what is pending: a CRLF may be split between two reads
            buf = buf.replace(b"\r\n", b"\n")
        events: list[Event] = []
        pos = 0
        while (end := buf.find(b"\n\n", pos)) >= 0:  # walk the buffer once: many events may share a chunk
            if buf.startswith(b"data: {", pos) and buf.find(b"\n", pos, end) < 0:  # one JSON line: most events
                try:
                    events.append(Event(buf[pos : end + 2], None, orjson.loads(buf[pos + 6 : end])))
                except orjson.JSONDecodeError:
                    raise _malformed(buf[pos + 6 : end]) from None
            elif (ev := _parse_block(buf[pos : end + 2])) is not None:
                events.append(ev)
            pos = end + 2
        self._buf = buf[pos:]
        return events

    @property
    def pending(self) -> bytes:
        return self._buf


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
        raise _malformed(payload) from None


def _malformed(payload: bytes) -> StreamError:
    return StreamError(f"upstream sent a malformed SSE event: {payload[:120]!r}")


def encode(data: Any, event: str | None = None) -> bytes:
    """One SSE event in the framing the OpenAI SDK expects."""
    head = f"event: {event}\n".encode() if event else b""
    body = data.encode() if isinstance(data, str) else orjson.dumps(data)
    return head + b"data: " + body + b"\n\n"
