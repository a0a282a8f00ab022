"""Answers kept in the queue: snapshot an upstream answer to JSON, rebuild it, replace its text.

A held answer is stored whole (JSON body, or every SSE event) so it can be replayed after a decision
by whichever replica still holds the client, and shown to reviewers after a restart.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson

from llmvet.proxy import sse
from llmvet.proxy.app import Answer
from llmvet.proxy.wire import Wire


def snapshot(answer: Answer) -> dict[str, Any]:
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
        events = [sse.Event(sse.encode(e["data"], e["event"]) if e["data"] is not None else b"", e["event"], e["data"])
                  for e in snap["events"]]
    data = snap.get("data")
    return Answer(snap["status"], dict(snap.get("headers") or {}), orjson.dumps(data) if data is not None else b"",
                  data, events, snap.get("text") or "")


def replace_text(wire: Wire, answer: Answer, text: str) -> Answer:
    """The same answer (same ids, model, usage, framing) with the text of its first choice replaced."""
    if answer.events is None:
        data = copy.deepcopy(answer.data or {})
        route = wire.route
        if route == "chat.completions":
            choices = data.setdefault("choices", [])
            if not choices:
                choices.append({"index": 0, "message": {"role": "assistant"}, "finish_reason": "stop"})
            choices[0].setdefault("message", {})["content"] = text
        elif route == "completions":
            choices = data.setdefault("choices", [])
            if not choices:
                choices.append({"index": 0, "finish_reason": "stop"})
            choices[0]["text"] = text
        else:
            _blank_response(data)
            data = wire.append(data, text)
        return Answer(answer.status, dict(answer.headers), orjson.dumps(data), data, None, text)
    blanked = [sse.Event(b"", e.event, _blank_event(wire.route, copy.deepcopy(e.data))) for e in answer.events]
    payloads = wire.stream_append(blanked, text)
    events = []
    for p in payloads:
        name = p.get("type") if isinstance(p, dict) and wire.route == "responses" else None
        events.append(sse.Event(sse.encode(p, name), name, p))
    return Answer(answer.status, dict(answer.headers), b"", None, events, text)


def _blank_response(resp: dict[str, Any]) -> None:
    for item in resp.get("output") or []:
        if item.get("type") == "message":
            for part in item.get("content") or []:
                if part.get("type") == "output_text":
                    part["text"] = ""
    if isinstance(resp.get("output_text"), str):
        resp["output_text"] = ""


def _blank_event(route: str, d: Any) -> Any:
    if not isinstance(d, dict):
        return d
    if route == "chat.completions":
        for c in d.get("choices") or []:
            delta = c.get("delta")
            if c.get("index", 0) == 0 and isinstance(delta, dict) and delta.get("content"):
                delta["content"] = ""
    elif route == "completions":
        for c in d.get("choices") or []:
            if c.get("index", 0) == 0 and c.get("text"):
                c["text"] = ""
    else:
        kind = d.get("type")
        if kind == "response.output_text.delta":
            d["delta"] = ""
        elif kind == "response.output_text.done":
            d["text"] = ""
        elif kind == "response.content_part.done" and isinstance(d.get("part"), dict):
            d["part"]["text"] = ""
        elif kind == "response.output_item.done" and isinstance(d.get("item"), dict):
            _blank_response({"output": [d["item"]]})
        elif isinstance(d.get("response"), dict):
            _blank_response(d["response"])
    return d
