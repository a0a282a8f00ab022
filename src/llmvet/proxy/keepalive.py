"""SSE keep-alives: comment lines sent while a stream waits, so proxies and clients do not time out.

Idle load balancers cut connections after 30-120 s without a byte, and clients have read timeouts;
an SSE comment (`: keep-alive`) is ignored by every SSE parser, the openai SDK's included.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import orjson
from starlette.responses import Response, StreamingResponse

from llmvet.proxy.errors import ProxyError

KEEPALIVE = b": keep-alive\n\n"


class KeepAliveStream(StreamingResponse):
    """An event stream that sends a keep-alive whenever its body has been silent for `interval` seconds.

    The body is iterated inline (a task and a queue between body and sender cost about 40 µs of CPU
    per chunk here); a timer looks at the time of the last send once per interval and, when the body
    is stuck (an upstream read, a registry lookup), sends the comment on its own.
    """

    def __init__(self, content: AsyncIterator[bytes], interval: float, **kwargs: Any) -> None:
        super().__init__(content, media_type="text/event-stream", **kwargs)
        self.interval = interval

    async def stream_response(self, send: Any) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        loop = asyncio.get_running_loop()
        last = loop.time()
        beats: set[asyncio.Task[None]] = set()
        handle: asyncio.TimerHandle

        def beat() -> None:
            nonlocal handle, last
            now = loop.time()
            if now - last >= self.interval:
                last = now
                task = loop.create_task(send({"type": "http.response.body", "body": KEEPALIVE, "more_body": True}))
                beats.add(task)
                task.add_done_callback(beats.discard)
            handle = loop.call_at(last + self.interval, beat)

        handle = loop.call_later(self.interval, beat)
        try:
            async for chunk in self.body_iterator:
                last = loop.time()
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        finally:
            handle.cancel()
            if beats:  # a keep-alive being written finishes before the stream ends
                await asyncio.gather(*beats, return_exceptions=True)
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def first_or_keepalive(
    work: Awaitable[Response], interval: float, stopped: Any, headers: dict[str, str] | None = None
) -> Response:
    """`work`'s response if it is ready within `interval`; otherwise a 200 event stream that keeps the
    client alive until it is, then carries it. A response that turns out to be an error (a block, a
    reviewer's rejection) can no longer change the status: `stopped(body)` turns its JSON body into
    the events that end the stream."""
    task = asyncio.ensure_future(work)
    try:
        done, _ = await asyncio.wait({task}, timeout=interval)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if done:
        return task.result()

    async def stream() -> AsyncIterator[bytes]:
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=interval)
                if not task.done():
                    yield KEEPALIVE
            try:
                response = task.result()
            except ProxyError as exc:
                response = exc.response()
            if isinstance(response, StreamingResponse) and response.status_code == 200:
                async for chunk in response.body_iterator:
                    yield chunk if isinstance(chunk, bytes) else str(chunk).encode()
            else:
                yield stopped(orjson.loads(bytes(response.body)) if response.body else {})
        finally:
            task.cancel()

    return StreamingResponse(stream(), 200, headers=headers, media_type="text/event-stream")
