"""What the client receives outside the fields a wire reads as text: vetted as JSON text.

A hostile upstream (or a vendor extension) can add keys the OpenAI format does not define, at the top
of a response, in a choice, a message or a stream delta. The SDKs keep them (`model_extra`) and an app
may log or show them, so they are vetted too, as the part kind "extra" (read by validators that read
every kind, such as `regex`; not by prose or package checks).
"""

from __future__ import annotations

import json
from typing import Any

from llmvet.proxy.errors import upstream_bad_response


def extra_text(obj: dict[str, Any], known: frozenset[str]) -> str:
    """The JSON text of `obj`'s keys outside `known` ("" when it has none, or none holds anything:
    OpenAI sends `"annotations": []` with most messages)."""
    if obj.keys() <= known:
        return ""
    extra = {k: v for k, v in obj.items() if k not in known and v is not None and v != "" and v != [] and v != {}}
    return json.dumps(extra, ensure_ascii=False) if extra else ""


def as_dict(value: Any, what: str) -> dict[str, Any]:
    """`value` if it is an object (None: an empty one); else no client could read the answer (a choice
    that is a string, say), and it is an upstream error (502), whatever step of the proxy reads it."""
    if value is None:
        return {}
    if value.__class__ is not dict:
        raise upstream_bad_response(f"{what} is not an object")
    return value
