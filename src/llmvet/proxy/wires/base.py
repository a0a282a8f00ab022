"""The contract every wire format implements, and the parts of an answer it finds.

A `Part` is one piece of what the client will receive: a choice's message text, its refusal, a tool
call's name or arguments, a reasoning summary. The proxy vets every part of every choice; validators
say which kinds they read (`Validator.reads`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmvet.proxy import sse
from llmvet.proxy.sse import Event
from llmvet.validators.base import PartKind


@dataclass(frozen=True, slots=True)
class Part:
    choice: int
    label: str  # content | refusal | reasoning | tool_call:NAME | tool_name | function_call:NAME
    kind: PartKind
    text: str


def first_content(parts: list[Part]) -> str:
    """The message text of the first choice among an answer's parts."""
    return next((p.text for p in parts if p.label == "content"), "")


class Wire:
    """One OpenAI route's shapes. The proxy's flow never branches on the route: it asks its wire."""

    route: str = ""
    path: str = ""
    supports_n: bool = True  # the request may ask for several choices in one call

    # ---- reading -----------------------------------------------------------------------------------
    def parts(self, data: dict[str, Any]) -> list[Part]:
        """Every part of a JSON answer, each choice's `content` part first (present even when empty)."""
        raise NotImplementedError

    def stream_parts(self, events: list[Event]) -> list[Part]:
        """The same parts, assembled from stream deltas as the SDK assembles them."""
        raise NotImplementedError

    def texts(self, data: dict[str, Any]) -> list[str]:
        """The message text of every choice (several when the request asked for `n`)."""
        return [p.text for p in self.parts(data) if p.label == "content"]

    def text(self, data: dict[str, Any]) -> str:
        """The message text of the first choice."""
        return first_content(self.parts(data))

    def vetted_stream_parts(self, events: list[Event]) -> list[Part]:
        """What of a stream is vetted: its assembled parts, and its error events (the SDKs raise them
        with their message, which the app shows)."""
        return self.stream_parts(events) + error_parts(events)

    def stream_text(self, events: list[Event]) -> str:
        return next((p.text for p in self.stream_parts(events) if p.label == "content"), "")

    def stream_complete(self, events: list[Event]) -> bool:
        return any(e.data == "[DONE]" for e in events)

    def event_name(self, payload: Any) -> str | None:
        """The SSE `event:` name to send with a payload (only the Responses API names its events)."""
        return None

    def encode(self, items: list[Any]) -> bytes:
        """Event payloads as the SSE bytes the client gets (event names included)."""
        return b"".join(sse.encode(p, self.event_name(p)) for p in items)

    # ---- incremental streams -------------------------------------------------------------------------
    def event_deltas(self, payload: Any, names: dict[str, str]) -> list[tuple[int, str, PartKind, str]]:
        """The text one stream event adds, as (choice, part key, kind, text). `names` is scratch space
        for the stream (e.g. tool-call names seen so far)."""
        raise NotImplementedError

    def is_terminal(self, payload: Any) -> bool:
        """Events that close a choice or the stream, or repeat text whole (held until the end)."""
        raise NotImplementedError

    def read_event(self, payload: Any, names: dict[str, str]) -> tuple[list[tuple[int, str, PartKind, str]], bool]:
        """`event_deltas` and `is_terminal` of one event in one call (a wire may read both at once)."""
        return self.event_deltas(payload, names), self.is_terminal(payload)

    def finished_choices(self, payload: Any) -> list[int]:
        """The choices a stream event finishes (no more text follows for them)."""
        return []

    def stream_stop(self, items: list[Any], note: dict[str, Any]) -> list[Any]:
        """The payloads that end a stream stopped by a finding after some text went out: every choice
        finishes with `content_filter` and the `llmvet` field says why."""
        raise NotImplementedError

    # ---- changing ----------------------------------------------------------------------------------
    def append(self, data: dict[str, Any], notice: str) -> dict[str, Any]:
        """A copy of a JSON answer with `notice` added to every choice's text."""
        raise NotImplementedError

    def stream_append(self, events: list[Event], notice: str) -> list[Any]:
        """The event payloads to replay, with the notice added to every choice (before it finishes)."""
        raise NotImplementedError

    def with_text(self, data: dict[str, Any], text: str) -> dict[str, Any]:
        """A copy of a JSON answer (same ids, model, usage) in which every choice says only `text`:
        tool calls, refusals, reasoning and logprobs of the original are gone."""
        raise NotImplementedError

    def stream_with_text(self, events: list[Event], text: str) -> list[Any]:
        """A stream (event payloads) in which every choice says only `text`, built afresh: nothing of
        the original answer's content is carried over, only its ids, model and usage."""
        raise NotImplementedError

    # ---- requests ----------------------------------------------------------------------------------
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


# Stream events the SDKs raise (or hand the app) as errors, with the text they carry: an `error`
# field (chat, completions), or a Responses `error` / `response.failed` event.
ERROR_EVENT_TYPES = frozenset({"error", "response.failed"})


def error_event_text(payload: dict[str, Any]) -> str | None:
    """Every key and string of an error event (None for any other event)."""
    if "error" in payload or payload.get("type") in ERROR_EVENT_TYPES:
        return strings_of(payload)
    return None


def error_parts(events: list[Event]) -> list[Part]:
    """The stream's error events as `error` parts, one per event."""
    texts = (error_event_text(d) for d in data_events(events))
    return [Part(0, "error", "error", t) for t in texts if t]


def strings_of(value: Any) -> str:
    """Every key and string in a JSON value, one per line, in document order."""
    out: list[str] = []
    stack = [value]  # a walk without recursion: the nesting is the upstream's to choose
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            out.extend(item)
            stack.extend(reversed(item.values()))
        elif isinstance(item, list):
            stack.extend(reversed(item))
    return "\n".join(out)


def data_events(events: list[Event]) -> list[dict[str, Any]]:
    return [e.data for e in events if isinstance(e.data, dict)]


def payloads(events: list[Event]) -> list[Any]:
    return [e.data for e in events if e.data is not None]


def insert_before_finish(items: list[Any], notices: dict[int, dict[str, Any]]) -> list[Any]:
    """Chunks `notices[i]` (one per choice index) placed just before the chunk that finishes choice i,
    or before `[DONE]` (or the end) for a choice that never says it finished."""
    out: list[Any] = []
    pending = dict(notices)
    for d in items:
        if d == "[DONE]":
            out.extend(pending.pop(i) for i in sorted(pending))
        elif isinstance(d, dict):
            for c in d.get("choices") or []:
                i = c.get("index", 0)
                if c.get("finish_reason") and i in pending:
                    out.append(pending.pop(i))
        out.append(d)
    out.extend(pending.pop(i) for i in sorted(pending))
    return out


def choice_indexes(items: list[Any]) -> list[int]:
    """Every choice index a stream mentions (choice 0 when it mentions none)."""
    seen = {c.get("index", 0) for d in items if isinstance(d, dict) for c in d.get("choices") or []}
    return sorted(seen) or [0]


def finished_choices(payload: Any) -> list[int]:
    """The choices a chat or completions stream event gives a finish_reason."""
    if not isinstance(payload, dict):
        return []
    return [c.get("index", 0) for c in payload.get("choices") or [] if c.get("finish_reason")]


def usage_chunk(items: list[Any], template: dict[str, Any]) -> list[dict[str, Any]]:
    """The stream's usage chunk (`stream_options.include_usage`), rebuilt on `template`, if it had one."""
    usage = next((d["usage"] for d in items if isinstance(d, dict) and d.get("usage")), None)
    return [{**template, "choices": [], "usage": usage}] if usage else []
