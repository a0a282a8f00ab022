"""How the validator asks again: the body overrides, the paraphrase conversation, token estimates."""

from __future__ import annotations

import copy
import math
from typing import Any

import orjson

CHARS_PER_TOKEN = 4  # rough, tokenizer-free estimate; settled later against the upstream's usage


def estimate_tokens(value: Any) -> int:
    text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    return math.ceil(len(text) / CHARS_PER_TOKEN) + 4


def conversation(request: dict[str, Any]) -> Any:
    for field in ("messages", "input", "prompt"):
        if field in request:
            return request[field]
    return ""


def max_tokens_field(request: dict[str, Any], route: str) -> str:
    """The completion-cap field the request's API uses (chat: the current name unless the client used the old one)."""
    if route == "responses":
        return "max_output_tokens"
    if route == "completions" or "max_tokens" in request:
        return "max_tokens"
    return "max_completion_tokens"  # what reasoning models accept; max_tokens is deprecated for chat


# Room a re-asked answer gets beyond the one under test: a preamble ("Sure! Let me think about this…")
# before the answer itself must not push the answer past the cap.
PREAMBLE_TOKENS = 192
MIN_SAMPLE_TOKENS = 256


def sample_cap(request: dict[str, Any], route: str, answer: str | None, ceiling: int) -> int:
    """Completion cap of one re-ask: an answer twice as long as the one under test plus a preamble
    (`None`: the answer is not known yet, so the ceiling)."""
    cap = (
        ceiling
        if answer is None
        else min(max(2 * estimate_tokens(answer) + PREAMBLE_TOKENS, MIN_SAMPLE_TOKENS), ceiling)
    )
    own = request.get(max_tokens_field(request, route))
    if isinstance(own, int) and own > 0:
        cap = min(cap, own)
    return cap


def overrides(request: dict[str, Any], route: str, temperature: float | None, cap: int) -> dict[str, Any]:
    body: dict[str, Any] = {max_tokens_field(request, route): cap}
    if temperature is not None:
        body["temperature"] = temperature
    return body


def with_question(
    request: dict[str, Any], route: str, question: str
) -> tuple[dict[str, Any], list[dict[str, Any]] | None]:
    """(extra body fields, messages) that ask `question` in place of the user's last turn.

    Chat and responses keep the rest of the conversation (system prompt, earlier turns); the
    completions route has no conversation, so its prompt is replaced.
    """
    if route == "completions" or ("messages" not in request and "input" not in request):
        return {"prompt": question}, None
    items = request.get("messages") if "messages" in request else request.get("input")
    if isinstance(items, str) or not items:
        return {}, [{"role": "user", "content": question}]
    msgs = copy.deepcopy(list(items))
    for i in range(len(msgs) - 1, -1, -1):
        m = msgs[i]
        if isinstance(m, dict) and m.get("role", "user") == "user" and m.get("type", "message") == "message":
            msgs[i] = {**m, "content": question}
            return {}, msgs
    return {}, [*msgs, {"role": "user", "content": question}]


def clean_paraphrase(text: str) -> str:
    t = text.strip()
    for prefix in ("Restated question:", "Question:", "Restated:"):
        if t.lower().startswith(prefix.lower()):
            t = t[len(prefix) :].strip()
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "\"'“”":
        t = t[1:-1].strip()
    return t.strip("“”").strip()
