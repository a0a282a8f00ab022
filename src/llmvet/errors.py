"""OpenAI-shaped error bodies: every failure a client sees parses as a normal API error in the SDK.

A leaf module, so the proxy and its extensions (the review API) answer errors the same way.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


def error_body(message: str, type_: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "code": code, "param": param}}


def error_response(
    status: int,
    message: str,
    type_: str,
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    body = error_body(message, type_, code, param)
    if extra:
        body.update(extra)
    return Response(orjson.dumps(body), status, headers=headers, media_type="application/json")
