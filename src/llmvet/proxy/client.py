"""Reading the client's request: the body within its size limit, the JSON object, and its disconnect."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from llmvet.proxy.errors import bad_request, body_too_large
from llmvet.proxy.exchange import ClientGone


async def read_body(request: Request, limit: int) -> bytes:
    """The client's body, refused with 413 past `limit` bytes (declared or sent). Read from the ASGI
    messages themselves: a body nearly always comes in one, which is returned as it is."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise body_too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await request.receive()
        if message["type"] != "http.request":  # http.disconnect
            raise ClientGone()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise body_too_large(limit)
        if not message.get("more_body", False):
            if not chunks:
                return chunk
            chunks.append(chunk)
            return b"".join(chunks)
        chunks.append(chunk)


def request_object(raw: bytes) -> dict[str, Any]:
    """The client's JSON body: an object naming a model, or a 400 saying what is wrong."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise bad_request("request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad_request("you must provide a model parameter", param="model", code="missing_required_parameter")
    return body


WATCH_AFTER = 0.25  # seconds: work done sooner never starts a watcher


async def until_disconnected(request: Request, work: Awaitable[Response]) -> Response:
    """Run `work`; if the client goes away first, cancel it (and with it the upstream request).

    The watcher task starts only once the work has taken `WATCH_AFTER`: most answers are done by then,
    and a timer costs a fraction of a task. A client that left earlier is noticed when it starts."""
    me = asyncio.current_task()
    assert me is not None
    gone = False
    watcher: asyncio.Future[None] | None = None

    async def watch() -> None:
        nonlocal gone
        while (await request.receive())["type"] != "http.disconnect":
            pass
        gone = True
        me.cancel()

    def start() -> None:
        nonlocal watcher
        watcher = asyncio.ensure_future(watch())

    timer = asyncio.get_running_loop().call_later(WATCH_AFTER, start)
    try:
        return await work
    except asyncio.CancelledError:
        if gone:
            me.uncancel()
            raise ClientGone() from None
        raise
    finally:
        timer.cancel()
        if watcher is not None:
            watcher.cancel()
