"""Request side: ask the model for one explicit uncertainty statement, so compliant models need no re-ask."""

from __future__ import annotations

import copy
from typing import Any

DEFAULT_INSTRUCTION = (
    "End your answer with one explicit uncertainty statement: name the part you are least sure of and "
    "why, or state your confidence level (e.g. 'Confidence: medium - I could not verify the release "
    "date.'). Do not add generic disclaimers."
)
_SEP = "\n\n"


def add_instruction(body: dict[str, Any], route: str, instruction: str) -> dict[str, Any]:
    """A copy of `body` carrying `instruction`; the caller's dict is never changed.

    chat.completions: appended to the first system (or developer) message, else a system message is
    prepended. responses: appended to `instructions`. completions: prefixed to the prompt(s).
    Idempotent: a body that already carries the instruction is returned as is (re-asks reuse bodies).
    """
    if route == "chat.completions" and isinstance(body.get("messages"), list):
        out = dict(body)
        messages = [dict(m) if isinstance(m, dict) else m for m in body["messages"]]
        for msg in messages:
            if isinstance(msg, dict) and msg.get("role") in ("system", "developer"):
                content = msg.get("content")
                if isinstance(content, str):
                    if instruction in content:
                        return body
                    msg["content"] = f"{content}{_SEP}{instruction}" if content else instruction
                elif isinstance(content, list):
                    if any(isinstance(p, dict) and p.get("text") == instruction for p in content):
                        return body
                    msg["content"] = [*copy.deepcopy(content), {"type": "text", "text": instruction}]
                else:
                    msg["content"] = instruction
                break
        else:
            messages.insert(0, {"role": "system", "content": instruction})
        out["messages"] = messages
        return out
    if route == "responses":
        out = dict(body)
        current = body.get("instructions")
        if isinstance(current, str) and current:
            if instruction in current:
                return body
            out["instructions"] = f"{current}{_SEP}{instruction}"
        else:
            out["instructions"] = instruction
        return out
    if route == "completions" and "prompt" in body:
        out = dict(body)
        prompt = body["prompt"]
        if isinstance(prompt, str):
            out["prompt"] = prompt if prompt.startswith(instruction) else f"{instruction}{_SEP}{prompt}"
        elif isinstance(prompt, list) and all(isinstance(p, str) for p in prompt):
            out["prompt"] = [p if p.startswith(instruction) else f"{instruction}{_SEP}{p}" for p in prompt]
        return out  # token-id prompts cannot take text: left unchanged
    return body
