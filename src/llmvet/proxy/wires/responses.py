"""`/v1/responses`: one output list of items (messages, function calls, reasoning); named SSE events."""

from __future__ import annotations

import copy
from typing import Any

from llmvet.proxy.sse import Event
from llmvet.proxy.wires.base import Part, Wire, data_events, payloads
from llmvet.proxy.wires.extras import extra_text
from llmvet.text import content_text, field_text
from llmvet.validators.base import PartKind

FINAL_EVENTS = ("response.completed", "response.incomplete", "response.failed")


def _output_text(resp: dict[str, Any], kind: str = "output_text") -> str:
    return "".join(
        field_text(part.get("text" if kind == "output_text" else "refusal"))
        for item in resp.get("output") or []
        if isinstance(item, dict) and item.get("type") == "message"
        for part in item.get("content") or []
        if isinstance(part, dict) and part.get("type") == kind
    )


def response_parts(resp: dict[str, Any]) -> list[Part]:
    out = [Part(0, "content", "content", _output_text(resp))]
    refusal = _output_text(resp, "refusal")
    if refusal:
        out.append(Part(0, "refusal", "refusal", refusal))
    for item in resp.get("output") or []:
        if not isinstance(item, dict):
            out.extend(Part(0, label, "extra", text) for _, label, _, text in _extra_item(item))
            continue
        kind = item.get("type")
        if kind in ("function_call", "custom_tool_call"):
            name = field_text(item.get("name"))
            args = item.get("arguments") if kind == "function_call" else item.get("input")
            out.append(Part(0, "tool_name", "tool_name", name))
            out.append(Part(0, f"tool_call:{name}", "tool_arguments", field_text(args)))
        elif kind == "reasoning":
            summary = "\n".join(content_text([s]) for s in item.get("summary") or [] if isinstance(s, dict))
            if summary:
                out.append(Part(0, "reasoning", "reasoning", summary))
        else:
            out.extend(Part(0, label, "extra", text) for _, label, _, text in _extra_item(item))
    return out


# Output items read above; any other (a hosted tool's call: code, a shell command, an MCP call's
# arguments and output, search results) is vetted as its JSON text, less what is no text: an image
# generation's base64 `result`.
_READ_ITEMS = frozenset(("message", "function_call", "custom_tool_call", "reasoning"))
_ITEM_BARE_KEYS = frozenset(("type", "id", "status", "result"))
# Stream events whose text `event_deltas` reads; other events carry none beyond these keys, repeat
# text the final snapshot holds (`_REPEATS`, held to the end), or have what they carry vetted whole.
_DELTA_EVENTS = frozenset(
    (
        "response.output_text.delta",
        "response.refusal.delta",
        "response.function_call_arguments.delta",
        "response.custom_tool_call_input.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_text.delta",
    )
)
_BARE_KEYS = frozenset(("type", "item_id", "output_index", "content_index", "summary_index", "sequence_number"))
_REPEATS = frozenset(
    (
        *FINAL_EVENTS,
        "error",  # (read as an `error` part)
        "response.output_item.done",
        "response.content_part.added",
        "response.content_part.done",
        "response.output_text.done",
        "response.refusal.done",
        "response.function_call_arguments.done",
        "response.custom_tool_call_input.done",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_part.done",
        "response.reasoning_summary_text.done",
        "response.reasoning_text.done",
    )
)


_SNAPSHOTS = frozenset(("response.created", "response.in_progress", "response.queued"))


def _extra_item(item: Any) -> list[tuple[int, str, PartKind, str]]:
    """An output item of a kind not read as parts, as its JSON text (nothing for a read kind)."""
    if item.__class__ is not dict:
        return [(0, "item", "extra", field_text(item))]
    kind = item.get("type")
    if kind in _READ_ITEMS:
        return []
    text = extra_text(item, _ITEM_BARE_KEYS)
    return [(0, f"item:{kind}", "extra", text)] if text else []


class ResponsesWire(Wire):
    route = "responses"
    path = "/responses"
    supports_n = False

    def parts(self, data: dict[str, Any]) -> list[Part]:
        return response_parts(data)

    def stream_parts(self, events: list[Event]) -> list[Part]:
        final = _final_response(data_events(events))
        # What events of kinds not read here carried (items the final snapshot repeats are read there)
        extras = "".join(
            text
            for d in data_events(events)
            if final is None or d.get("type") != "response.output_item.added"
            for _, _, kind, text in self.event_deltas(d, {})
            if kind == "extra"
        )
        parts = self._stream_parts(events, final)
        return [*parts, Part(0, "extra", "extra", extras)] if extras else parts

    def _stream_parts(self, events: list[Event], final: dict[str, Any] | None) -> list[Part]:
        if final is not None:
            return response_parts(final)
        # No final snapshot: the items the stream said were done, plus text deltas of unfinished ones.
        items = [d["item"] for d in data_events(events) if d.get("type") == "response.output_item.done"]
        parts = response_parts({"output": [i for i in items if isinstance(i, dict)]})
        deltas = "".join(
            str(d.get("delta") or "") for d in data_events(events) if d.get("type") == "response.output_text.delta"
        )
        if deltas and not parts[0].text:
            parts[0] = Part(0, "content", "content", deltas)
        return parts

    def stream_complete(self, events: list[Event]) -> bool:
        return any(isinstance(e.data, dict) and e.data.get("type") in FINAL_EVENTS for e in events)

    def event_name(self, payload: Any) -> str | None:
        return payload.get("type") if isinstance(payload, dict) else None

    def event_deltas(self, payload: Any, names: dict[str, str]) -> list[tuple[int, str, PartKind, str]]:
        if not isinstance(payload, dict):
            return []
        kind, delta = payload.get("type"), payload.get("delta")
        key = str(payload.get("item_id") or "")
        if kind == "response.output_item.added" and isinstance(payload.get("item"), dict):
            item = payload["item"]
            if item.get("type") in ("function_call", "custom_tool_call") and item.get("name"):
                return [(0, f"tool_name#{item.get('id')}", "tool_name", str(item["name"]))]
            return _extra_item(item)
        if kind not in _DELTA_EVENTS:  # (an event of a kind not read here: what it carries is vetted whole)
            if kind in _SNAPSHOTS:  # (the response so far: its output is empty, or vetted here)
                response = payload.get("response")
                output = response.get("output") if response.__class__ is dict else response
                return [(0, "extra", "extra", field_text(output))] if output else []
            extra = "" if kind in _REPEATS else extra_text(payload, _BARE_KEYS)
            return [(0, "extra", "extra", extra)] if extra else []
        delta = field_text(delta)  # (text in another shape than a string: read as its JSON text)
        if not delta:
            return []
        if kind == "response.output_text.delta":
            return [(0, "content", "content", delta)]
        if kind == "response.refusal.delta":
            return [(0, "refusal", "refusal", delta)]
        if kind in ("response.function_call_arguments.delta", "response.custom_tool_call_input.delta"):
            return [(0, f"tool_call#{key}", "tool_arguments", delta)]
        if kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            return [(0, f"reasoning#{key}", "reasoning", delta)]
        return []

    def is_terminal(self, payload: Any) -> bool:
        # "*.done" events and the final snapshot repeat text whole: held until every check has passed
        kind = payload.get("type") if isinstance(payload, dict) else None
        return not isinstance(kind, str) or kind.endswith(".done") or kind in FINAL_EVENTS

    def stream_stop(self, items: list[Any], note: dict[str, Any]) -> list[Any]:
        created: dict[str, Any] = next(
            (d["response"] for d in items if isinstance(d, dict) and isinstance(d.get("response"), dict)), {}
        )
        resp = {k: v for k, v in created.items() if k in ("id", "object", "created_at", "model")}
        resp |= {"status": "incomplete", "incomplete_details": {"reason": "content_filter"}, "output": []}
        return [{"type": "response.incomplete", "response": resp, "llmvet": note}]

    def append(self, data: dict[str, Any], notice: str) -> dict[str, Any]:
        out = copy.deepcopy(data)
        _append_to_response(out, notice)
        return out

    def stream_append(self, events: list[Event], notice: str) -> list[Any]:
        out: list[Any] = []
        items = copy.deepcopy(payloads(events))
        last_delta = max(
            (i for i, d in enumerate(items) if isinstance(d, dict) and d.get("type") == "response.output_text.delta"),
            default=None,
        )
        for i, d in enumerate(items):
            if isinstance(d, dict):
                _append_to_event(d, notice)
            out.append(d)
            if i == last_delta:
                extra = {k: d.get(k) for k in ("item_id", "output_index", "content_index") if k in d}
                out.append({"type": "response.output_text.delta", **extra, "delta": notice})
        return out

    def with_text(self, data: dict[str, Any], text: str) -> dict[str, Any]:
        out = copy.deepcopy(data)
        first = next((i for i in out.get("output") or [] if isinstance(i, dict) and i.get("type") == "message"), {})
        out["output"] = [_message(str(first.get("id") or "msg_llmvet"), text)]
        if "output_text" in out:
            out["output_text"] = text
        return out

    def stream_with_text(self, events: list[Event], text: str) -> list[Any]:
        final = _final_response(data_events(events)) or {}
        resp = self.with_text({k: v for k, v in final.items() if k != "output"} | {"output": []}, text)
        msg = resp["output"][0]
        where = {"item_id": msg["id"], "output_index": 0, "content_index": 0}
        part = msg["content"][0]
        steps: list[dict[str, Any]] = [
            {"type": "response.created", "response": {**resp, "status": "in_progress", "output": []}},
            {"type": "response.output_item.added", "output_index": 0, "item": {**msg, "content": []}},
            {"type": "response.content_part.added", **where, "part": {**part, "text": ""}},
            {"type": "response.output_text.delta", **where, "delta": text},
            {"type": "response.output_text.done", **where, "text": text},
            {"type": "response.content_part.done", **where, "part": part},
            {"type": "response.output_item.done", "output_index": 0, "item": msg},
            {"type": "response.completed", "response": {**resp, "status": "completed"}},
        ]
        return [{**step, "sequence_number": n} for n, step in enumerate(steps)]

    def conversation(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        inp = body.get("input")
        if isinstance(inp, str):
            return [{"role": "user", "content": inp}]
        return [m for m in inp or [] if isinstance(m, dict) and "role" in m]

    def with_messages(self, body: dict[str, Any], messages: list[dict[str, Any]]) -> dict[str, Any]:
        out = {**body, "input": [{"role": m["role"], "content": content_text(m.get("content"))} for m in messages]}
        out.pop("previous_response_id", None)
        return out


def _message(item_id: str, text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "id": item_id,
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def _final_response(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    for d in reversed(events):
        if d.get("type") in FINAL_EVENTS and isinstance(d.get("response"), dict):
            return d["response"]
    return None


def _append_to_response(resp: dict[str, Any], notice: str) -> None:
    parts = [
        part
        for item in resp.get("output") or []
        if item.get("type") == "message"
        for part in item.get("content") or []
        if part.get("type") == "output_text"
    ]
    if parts:
        parts[-1]["text"] = (parts[-1].get("text") or "") + notice
    if isinstance(resp.get("output_text"), str):
        resp["output_text"] += notice


def _append_to_event(d: dict[str, Any], notice: str) -> None:
    kind = d.get("type")
    if kind == "response.output_text.done":
        d["text"] = (d.get("text") or "") + notice
    elif kind == "response.content_part.done" and isinstance(d.get("part"), dict):
        if d["part"].get("type") == "output_text":
            d["part"]["text"] = (d["part"].get("text") or "") + notice
    elif kind == "response.output_item.done" and isinstance(d.get("item"), dict):
        _append_to_response({"output": [d["item"]]}, notice)
    elif kind in FINAL_EVENTS and isinstance(d.get("response"), dict):
        _append_to_response(d["response"], notice)
