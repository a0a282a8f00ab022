"""The three OpenAI response shapes llmvet vets: where the answer text is, and how to change it.

One class per route, so the proxy's flow never branches on the route itself.
"""

from __future__ import annotations

import copy
from typing import Any

from llmvet.proxy.sse import Event
from llmvet.text import content_text


class Wire:
    route: str = ""
    path: str = ""
    supports_n: bool = True  # the request may ask for several choices in one call

    def text(self, data: dict[str, Any]) -> str:
        raise NotImplementedError

    def texts(self, data: dict[str, Any]) -> list[str]:
        """Every alternative answer in a response (several when the request asked for `n`)."""
        return [self.text(data)]

    def stream_text(self, events: list[Event]) -> str:
        raise NotImplementedError

    def stream_complete(self, events: list[Event]) -> bool:
        return any(e.data == "[DONE]" for e in events)

    def append(self, data: dict[str, Any], notice: str) -> dict[str, Any]:
        raise NotImplementedError

    def stream_append(self, events: list[Event], notice: str) -> list[Any]:
        """The event payloads to replay, with the notice added to the answer (before the stream ends)."""
        raise NotImplementedError

    def with_text(self, data: dict[str, Any], text: str) -> dict[str, Any]:
        """A copy of a JSON answer (same ids, model, usage) whose answer text is `text`."""
        raise NotImplementedError

    def blank_event(self, payload: Any) -> Any:
        """A stream event payload (a copy) with its answer text emptied, for `stream_with_text`."""
        raise NotImplementedError

    def stream_with_text(self, events: list[Event], text: str) -> list[Any]:
        """The event payloads of a stream whose answer text is `text` (same framing and ids)."""
        blanked = [Event(b"", e.event, self.blank_event(copy.deepcopy(e.data))) for e in events]
        return self.stream_append(blanked, text)

    def event_name(self, payload: Any) -> str | None:
        """The SSE `event:` name to send with a payload (only the Responses API names its events)."""
        return None

    def with_messages(self, body: dict[str, Any], messages: list[dict[str, Any]]) -> dict[str, Any]:
        """The same request, with its conversation replaced (chat-style messages)."""
        raise NotImplementedError

    def conversation(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """The request's conversation as chat-style messages."""
        raise NotImplementedError

    def usage(self, data: dict[str, Any]) -> dict[str, int]:
        u = data.get("usage") or {}
        return {
            "prompt_tokens": int(u.get("prompt_tokens", u.get("input_tokens", 0)) or 0),
            "completion_tokens": int(u.get("completion_tokens", u.get("output_tokens", 0)) or 0),
            "total_tokens": int(u.get("total_tokens", 0) or 0),
        }


def _data_events(events: list[Event]) -> list[dict[str, Any]]:
    return [e.data for e in events if isinstance(e.data, dict)]


class ChatWire(Wire):
    route = "chat.completions"
    path = "/chat/completions"

    def text(self, data: dict[str, Any]) -> str:
        return self.texts(data)[0] if data.get("choices") else ""

    def texts(self, data: dict[str, Any]) -> list[str]:
        return [content_text((c.get("message") or {}).get("content")) for c in data.get("choices") or []]

    def stream_text(self, events: list[Event]) -> str:
        parts: list[str] = []
        for d in _data_events(events):
            for c in d.get("choices") or []:
                if c.get("index", 0) == 0:
                    piece = (c.get("delta") or {}).get("content")
                    if piece:
                        parts.append(piece)
        return "".join(parts)

    def append(self, data: dict[str, Any], notice: str) -> dict[str, Any]:
        out = copy.deepcopy(data)
        for c in out.get("choices") or []:
            msg = c.setdefault("message", {})
            msg["content"] = (msg.get("content") or "") + notice
        return out

    def stream_append(self, events: list[Event], notice: str) -> list[Any]:
        payloads = [e.data for e in events if e.data is not None]
        first = next((d for d in payloads if isinstance(d, dict) and d.get("choices")), None)
        # Insert a content chunk just before the chunk that finishes choice 0 (or before [DONE]).
        at = next(
            (
                i
                for i, d in enumerate(payloads)
                if isinstance(d, dict) and any(c.get("finish_reason") for c in d.get("choices") or [])
            ),
            next((i for i, d in enumerate(payloads) if d == "[DONE]"), len(payloads)),
        )
        chunk = {
            k: v for k, v in (first or {}).items() if k in ("id", "object", "created", "model", "system_fingerprint")
        }
        chunk["choices"] = [{"index": 0, "delta": {"content": notice}, "finish_reason": None}]
        return payloads[:at] + [chunk] + payloads[at:]

    def with_text(self, data: dict[str, Any], text: str) -> dict[str, Any]:
        out = copy.deepcopy(data)
        choices = out.setdefault("choices", [])
        if not choices:
            choices.append({"index": 0, "message": {"role": "assistant"}, "finish_reason": "stop"})
        choices[0].setdefault("message", {})["content"] = text
        return out

    def blank_event(self, payload: Any) -> Any:
        if isinstance(payload, dict):
            for c in payload.get("choices") or []:
                delta = c.get("delta")
                if c.get("index", 0) == 0 and isinstance(delta, dict) and delta.get("content"):
                    delta["content"] = ""
        return payload

    def conversation(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        return list(body.get("messages") or [])

    def with_messages(self, body: dict[str, Any], messages: list[dict[str, Any]]) -> dict[str, Any]:
        return {**body, "messages": messages}


class CompletionsWire(Wire):
    route = "completions"
    path = "/completions"

    def text(self, data: dict[str, Any]) -> str:
        return self.texts(data)[0] if data.get("choices") else ""

    def texts(self, data: dict[str, Any]) -> list[str]:
        return [c.get("text") or "" for c in data.get("choices") or []]

    def stream_text(self, events: list[Event]) -> str:
        return "".join(
            c.get("text") or "" for d in _data_events(events) for c in d.get("choices") or [] if c.get("index", 0) == 0
        )

    def append(self, data: dict[str, Any], notice: str) -> dict[str, Any]:
        out = copy.deepcopy(data)
        for c in out.get("choices") or []:
            c["text"] = (c.get("text") or "") + notice
        return out

    def stream_append(self, events: list[Event], notice: str) -> list[Any]:
        payloads = [e.data for e in events if e.data is not None]
        first = next((d for d in payloads if isinstance(d, dict)), {})
        at = next((i for i, d in enumerate(payloads) if d == "[DONE]"), len(payloads))
        chunk = {k: v for k, v in first.items() if k in ("id", "object", "created", "model")}
        chunk["choices"] = [{"index": 0, "text": notice, "finish_reason": None, "logprobs": None}]
        return payloads[:at] + [chunk] + payloads[at:]

    def with_text(self, data: dict[str, Any], text: str) -> dict[str, Any]:
        out = copy.deepcopy(data)
        choices = out.setdefault("choices", [])
        if not choices:
            choices.append({"index": 0, "finish_reason": "stop"})
        choices[0]["text"] = text
        return out

    def blank_event(self, payload: Any) -> Any:
        if isinstance(payload, dict):
            for c in payload.get("choices") or []:
                if c.get("index", 0) == 0 and c.get("text"):
                    c["text"] = ""
        return payload

    def conversation(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        prompt = body.get("prompt", "")
        return [{"role": "user", "content": prompt if isinstance(prompt, str) else "".join(map(str, prompt))}]

    def with_messages(self, body: dict[str, Any], messages: list[dict[str, Any]]) -> dict[str, Any]:
        # A completions model continues text: lay the conversation out as a transcript.
        prompt = "\n\n".join(content_text(m.get("content")) for m in messages) + "\n\n"
        return {**body, "prompt": prompt}


class ResponsesWire(Wire):
    route = "responses"
    path = "/responses"
    supports_n = False

    def text(self, data: dict[str, Any]) -> str:
        return "".join(
            part.get("text") or ""
            for item in data.get("output") or []
            if item.get("type") == "message"
            for part in item.get("content") or []
            if part.get("type") == "output_text"
        )

    def stream_complete(self, events: list[Event]) -> bool:
        return any(
            isinstance(e.data, dict)
            and e.data.get("type") in ("response.completed", "response.incomplete", "response.failed")
            for e in events
        )

    def stream_text(self, events: list[Event]) -> str:
        for d in reversed(_data_events(events)):
            if d.get("type") in ("response.completed", "response.incomplete") and isinstance(d.get("response"), dict):
                return self.text(d["response"])
        return "".join(
            d.get("delta") or "" for d in _data_events(events) if d.get("type") == "response.output_text.delta"
        )

    def _append_to_response(self, resp: dict[str, Any], notice: str) -> None:
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

    def append(self, data: dict[str, Any], notice: str) -> dict[str, Any]:
        out = copy.deepcopy(data)
        self._append_to_response(out, notice)
        return out

    def stream_append(self, events: list[Event], notice: str) -> list[Any]:
        out: list[Any] = []
        payloads = [copy.deepcopy(e.data) for e in events if e.data is not None]
        last_delta = max(
            (
                i
                for i, d in enumerate(payloads)
                if isinstance(d, dict) and d.get("type") == "response.output_text.delta"
            ),
            default=None,
        )
        for i, d in enumerate(payloads):
            if isinstance(d, dict):
                kind = d.get("type")
                if kind == "response.output_text.done":
                    d["text"] = (d.get("text") or "") + notice
                elif kind == "response.content_part.done" and isinstance(d.get("part"), dict):
                    if d["part"].get("type") == "output_text":
                        d["part"]["text"] = (d["part"].get("text") or "") + notice
                elif kind == "response.output_item.done" and isinstance(d.get("item"), dict):
                    self._append_to_response({"output": [d["item"]]}, notice)
                elif kind in ("response.completed", "response.incomplete") and isinstance(d.get("response"), dict):
                    self._append_to_response(d["response"], notice)
            out.append(d)
            if i == last_delta:
                extra = {k: d.get(k) for k in ("item_id", "output_index", "content_index") if k in d}
                out.append({"type": "response.output_text.delta", **extra, "delta": notice})
        return out

    def with_text(self, data: dict[str, Any], text: str) -> dict[str, Any]:
        out = copy.deepcopy(data)
        _blank_response(out)
        self._append_to_response(out, text)
        return out

    def blank_event(self, payload: Any) -> Any:
        if not isinstance(payload, dict):
            return payload
        kind = payload.get("type")
        if kind == "response.output_text.delta":
            payload["delta"] = ""
        elif kind == "response.output_text.done":
            payload["text"] = ""
        elif kind == "response.content_part.done" and isinstance(payload.get("part"), dict):
            payload["part"]["text"] = ""
        elif kind == "response.output_item.done" and isinstance(payload.get("item"), dict):
            _blank_response({"output": [payload["item"]]})
        elif isinstance(payload.get("response"), dict):
            _blank_response(payload["response"])
        return payload

    def event_name(self, payload: Any) -> str | None:
        return payload.get("type") if isinstance(payload, dict) else None

    def conversation(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        inp = body.get("input")
        if isinstance(inp, str):
            return [{"role": "user", "content": inp}]
        return [m for m in inp or [] if isinstance(m, dict) and "role" in m]

    def with_messages(self, body: dict[str, Any], messages: list[dict[str, Any]]) -> dict[str, Any]:
        out = {**body, "input": [{"role": m["role"], "content": content_text(m.get("content"))} for m in messages]}
        out.pop("previous_response_id", None)
        return out


def _blank_response(resp: dict[str, Any]) -> None:
    for item in resp.get("output") or []:
        if item.get("type") == "message":
            for part in item.get("content") or []:
                if part.get("type") == "output_text":
                    part["text"] = ""
    if isinstance(resp.get("output_text"), str):
        resp["output_text"] = ""


WIRES: dict[str, Wire] = {w.route: w for w in (ChatWire(), CompletionsWire(), ResponsesWire())}
