"""A loopback HTTP/1.1 server that answers with scripted raw bytes: for upstreams no framework would write.

`RawUpstream(answer)` calls `answer(request_head, body)` for every request and writes what it returns
(bytes, or an async iterator of bytes for an answer that goes on) on the wire exactly, then closes the
connection. It keeps the raw bytes of every request it got (`requests`), and counts the connections that
the other side closed while an answer was still being written (`cut_by_client`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from tests.support.servers import free_port


@dataclass
class RawRequest:
    head: bytes  # request line and headers, up to the blank line
    body: bytes

    @property
    def request_line(self) -> bytes:
        return self.head.split(b"\r\n", 1)[0]

    def header(self, name: str) -> list[str]:
        """Every value of the header `name` (case-insensitive), in order."""
        want = name.lower().encode()
        lines = self.head.split(b"\r\n")[1:]
        return [
            v.strip().decode("latin-1") for k, _, v in (line.partition(b":") for line in lines) if k.lower() == want
        ]


Answer = Callable[[RawRequest], "bytes | AsyncIterator[bytes]"]


CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}  # a request to send through llmvet


def chat_body(text: str) -> bytes:
    return orjson.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
        }
    )


def chat_chunk(text: str | None, finish: str | None = None) -> bytes:
    delta = {"content": text} if text is not None else {}
    return orjson.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
    )


def http_response(status: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    """One whole HTTP/1.1 response: `status` like "200 OK", the headers as given plus Content-Length."""
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers), f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class RawUpstream:
    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[RawRequest] = []
        self.cut_by_client = 0
        self.answers_done = 0  # answers written to their end
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
            self._started.set()

        self._loop.run_until_complete(start())
        self._loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await _read_request(reader)
            if request is None:
                return
            self.requests.append(request)
            out: Any = self.answer(request)
            if isinstance(out, bytes):
                writer.write(out)
                await writer.drain()
            else:
                async for piece in out:
                    writer.write(piece)
                    await writer.drain()
            self.answers_done += 1
        except (ConnectionError, asyncio.IncompleteReadError):
            self.cut_by_client += 1
        except asyncio.CancelledError:
            pass
        finally:
            writer.close()

    def __enter__(self) -> RawUpstream:
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("raw upstream failed to start")
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
            for task in asyncio.all_tasks():  # connections still open (the client never sent a request)
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()


async def _read_request(reader: asyncio.StreamReader) -> RawRequest | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    request = RawRequest(head[:-4], b"")
    length = request.header("content-length")
    if length:
        request.body = await reader.readexactly(int(length[0]))
    elif "chunked" in ",".join(request.header("transfer-encoding")).lower():
        request.body = await _read_chunked(reader)
    return request


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = b""
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return body
        body += await reader.readexactly(size)
        await reader.readexactly(2)
