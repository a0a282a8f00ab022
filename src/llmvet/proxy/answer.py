"""One upstream answer, buffered, and its snapshot: the shape the review queue stores and replays."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from llmvet.proxy import sse
from llmvet.proxy.errors import upstream_bad_response
from llmvet.proxy.wires import Wire
from llmvet.proxy.wires.base import Part, strings_of


@dataclass(slots=True)
class Answer:
    """The raw bytes of an upstream answer plus what llmvet parsed out of them."""

    status: int
    headers: dict[str, str]
    raw: bytes = b""
    data: dict[str, Any] | None = None  # non-streaming JSON body
    events: list[sse.Event] | None = None  # streaming: every SSE event, raw bytes kept
    text: str = ""
    elapsed_ms: float = 0.0
    parts: list[Part] | None = None  # the parts of `data` as vetted, when read at once with it

    def answered_model(self) -> str | None:
        """The `model` the upstream reported (JSON body, or the first stream event naming one)."""
        if self.data is not None:
            return self.data.get("model")
        for e in self.events or ():
            if isinstance(e.data, dict):
                model = e.data.get("model") or (e.data.get("response") or {}).get("model")
                if model:
                    return str(model)
        return None


def snapshot(answer: Answer) -> dict[str, Any]:
    """The answer as JSON, whole (body or every SSE event), so another replica can replay it."""
    return {
        "status": answer.status,
        "headers": {str(k): str(v) for k, v in answer.headers.items()},  # aiohttp keys are istr
        "data": answer.data,
        "events": None if answer.events is None else [{"event": e.event, "data": e.data} for e in answer.events],
        "text": answer.text,
    }


def restore(snap: dict[str, Any]) -> Answer:
    events = None
    if snap.get("events") is not None:
        events = [
            sse.Event(sse.encode(e["data"], e["event"]) if e["data"] is not None else b"", e["event"], e["data"])
            for e in snap["events"]
        ]
    data = snap.get("data")
    raw = orjson.dumps(data) if data is not None else b""
    return Answer(snap["status"], dict(snap.get("headers") or {}), raw, data, events, snap.get("text") or "")


def with_text(wire: Wire, answer: Answer, text: str) -> Answer:
    """The same answer (same ids, model, usage, framing) with its answer text replaced."""
    if answer.events is None:
        data = wire.with_text(answer.data or {}, text)
        return Answer(answer.status, dict(answer.headers), orjson.dumps(data), data, None, text)
    payloads = wire.stream_with_text(answer.events, text)  # built afresh: nothing of the original leaks
    events = [sse.Event(sse.encode(p, wire.event_name(p)), wire.event_name(p), p) for p in payloads]
    return Answer(answer.status, dict(answer.headers), b"", None, events, text)


def without_llmvet_field(answer: Answer) -> None:
    """Drop an `llmvet` field the upstream put in its body or its stream events: that name is llmvet's."""
    if answer.data is not None and "llmvet" in answer.data:
        del answer.data["llmvet"]
        answer.raw = orjson.dumps(answer.data)
    elif answer.data is None and answer.raw and b'"llmvet"' in answer.raw:
        answer.raw = strip_llmvet_field(answer.raw)  # an error body
    if answer.events is not None:
        answer.events = [event_without_llmvet(e) for e in answer.events]


def event_without_llmvet(event: sse.Event) -> sse.Event:
    """One stream event without an `llmvet` field in its data (re-encoded only when it had one)."""
    if isinstance(event.data, dict) and "llmvet" in event.data:
        data = {k: v for k, v in event.data.items() if k != "llmvet"}
        return sse.Event(sse.encode(data, event.event), event.event, data)
    return event


def strip_llmvet_field(raw: bytes) -> bytes:
    """A JSON object body without its top-level `llmvet` field (other bodies come back as they were)."""
    data = json_object_or_none(raw)
    if data is None or "llmvet" not in data:
        return raw
    del data["llmvet"]
    return orjson.dumps(data)


def error_text(raw: bytes) -> str:
    """What a client may show of an upstream error: every key and string of its JSON body, decoded (an
    escaped character hides nothing), one per line; a body that is not JSON, as text."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace")
    return strings_of(data)


def json_object_or_none(raw: bytes) -> dict[str, Any] | None:
    """A body as a JSON object, None when it is not one."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def json_object(raw: bytes) -> dict[str, Any]:
    """An upstream JSON body, which must be an object."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise upstream_bad_response("the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise upstream_bad_response("the body is not a JSON object")
    return data
