"""`/v1/completions`: choices of plain text."""

from __future__ import annotations

import copy
from typing import Any

from llmvet.proxy.sse import Event
from llmvet.proxy.wires.base import (
    Part,
    Wire,
    choice_indexes,
    data_events,
    finished_choices,
    insert_before_finish,
    payloads,
    usage_chunk,
)
from llmvet.proxy.wires.extras import as_dict, extra_text
from llmvet.text import content_text, field_text
from llmvet.validators.base import PartKind

TEMPLATE_KEYS = ("id", "object", "created", "model", "system_fingerprint")
# The keys of a response and of a choice; any other is vetted as an "extra" part (wires/extras.py).
TOP_KEYS = frozenset((*TEMPLATE_KEYS, "usage", "choices", "error"))  # (an error event: an `error` part)
CHOICE_KEYS = frozenset(("index", "text", "finish_reason", "logprobs"))


def _extras(data: dict[str, Any], choices: list[dict[str, Any]]) -> list[Part]:
    """What a response or a stream event carries outside the format, as "extra" parts."""
    out = [Part(0, "response_extra", "extra", extra_text(data, TOP_KEYS))]
    out += [Part(c.get("index", 0), "choice_extra", "extra", extra_text(c, CHOICE_KEYS)) for c in choices]
    return [p for p in out if p.text]


class CompletionsWire(Wire):
    route = "completions"
    path = "/completions"

    def parts(self, data: dict[str, Any]) -> list[Part]:
        choices = [as_dict(c, "a choice") for c in data.get("choices") or []]
        out = [
            Part(c.get("index", pos), "content", "content", field_text(c.get("text"))) for pos, c in enumerate(choices)
        ]
        return (out or [Part(0, "content", "content", "")]) + _extras(data, choices)

    def stream_parts(self, events: list[Event]) -> list[Part]:
        texts: dict[int, list[str]] = {}
        extras: list[Part] = []
        for d in data_events(events):
            choices = [as_dict(c, "a choice") for c in d.get("choices") or []]
            for c in choices:
                texts.setdefault(c.get("index", 0), []).append(field_text(c.get("text")))
            extras += _extras(d, choices)
        return [Part(i, "content", "content", "".join(texts.get(i, []))) for i in sorted(texts) or [0]] + extras

    def event_deltas(self, payload: Any, names: dict[str, str]) -> list[tuple[int, str, PartKind, str]]:
        if not isinstance(payload, dict):
            return []
        out: list[tuple[int, str, PartKind, str]] = []
        choices = [as_dict(c, "a choice") for c in payload.get("choices") or []]
        for c in choices:
            text = field_text(c.get("text"))  # (text in another shape than a string: read as its JSON text)
            if text:
                out.append((c.get("index", 0), "content", "content", text))
        return out + [(p.choice, p.label, p.kind, p.text) for p in _extras(payload, choices)]

    def is_terminal(self, payload: Any) -> bool:
        return not isinstance(payload, dict) or any(c.get("finish_reason") for c in payload.get("choices") or [])

    def finished_choices(self, payload: Any) -> list[int]:
        return finished_choices(payload)

    def stream_stop(self, items: list[Any], note: dict[str, Any]) -> list[Any]:
        template = _template(items)
        out: list[Any] = [
            {**template, "choices": [{"index": i, "text": "", "finish_reason": "content_filter", "logprobs": None}]}
            for i in choice_indexes(items)
        ]
        return [*out, {**template, "choices": [], "llmvet": note}, "[DONE]"]

    def append(self, data: dict[str, Any], notice: str) -> dict[str, Any]:
        out = copy.deepcopy(data)
        for c in out.get("choices") or []:
            c["text"] = (c.get("text") or "") + notice
        return out

    def stream_append(self, events: list[Event], notice: str) -> list[Any]:
        items = payloads(events)
        template = _template(items)
        notices = {
            i: {**template, "choices": [{"index": i, "text": notice, "finish_reason": None, "logprobs": None}]}
            for i in choice_indexes(items)
        }
        return insert_before_finish(items, notices)

    def with_text(self, data: dict[str, Any], text: str) -> dict[str, Any]:
        out = copy.deepcopy(data)
        indexes = [c.get("index", pos) for pos, c in enumerate(out.get("choices") or [])] or [0]
        out["choices"] = [{"index": i, "text": text, "finish_reason": "stop", "logprobs": None} for i in indexes]
        return out

    def stream_with_text(self, events: list[Event], text: str) -> list[Any]:
        items = payloads(events)
        template = _template(items)
        out: list[Any] = [
            {**template, "choices": [{"index": i, "text": text, "finish_reason": "stop", "logprobs": None}]}
            for i in choice_indexes(items)
        ]
        return [*out, *usage_chunk(items, template), "[DONE]"]

    def conversation(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        prompt = body.get("prompt", "")
        return [{"role": "user", "content": prompt if isinstance(prompt, str) else "".join(map(str, prompt))}]

    def with_messages(self, body: dict[str, Any], messages: list[dict[str, Any]]) -> dict[str, Any]:
        # A completions model continues text: lay the conversation out as a transcript.
        prompt = "\n\n".join(content_text(m.get("content")) for m in messages) + "\n\n"
        return {**body, "prompt": prompt}


def _template(items: list[Any]) -> dict[str, Any]:
    first = next((d for d in items if isinstance(d, dict)), {})
    return {k: v for k, v in first.items() if k in TEMPLATE_KEYS}
