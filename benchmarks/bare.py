"""Baselines for benchmarks/overhead.py: a canned upstream and bare pass-through proxies.

Run with uvicorn's factory mode, e.g. `uvicorn bare:upstream_app --factory` (PYTHONPATH=benchmarks).
"""

from __future__ import annotations

import os

import orjson

CHAT_RESPONSE = orjson.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "bench-model",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "logprobs": None,
                "message": {
                    "role": "assistant",
                    "content": "Use pandas: `pip install pandas`, then `import pandas as pd` and call pd.read_csv(path). "
                    "It returns a DataFrame you can filter, group and plot. I am fairly sure about the API, "
                    "but check the docs for the options of read_csv in your version.",
                },
            }
        ],
        "usage": {"prompt_tokens": 20, "completion_tokens": 60, "total_tokens": 80},
    }
)


def upstream_app():
    """The fastest upstream we can make in Python: raw ASGI, one canned chat completion."""

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(CHAT_RESPONSE)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": CHAT_RESPONSE})

    return app


def otlp_sink_app():
    """An OTLP/HTTP collector that accepts every export and keeps nothing (for --with-tracing)."""

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        headers = [(b"content-type", b"application/x-protobuf"), (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    return app


def _starlette(forward, startup, shutdown):
    import contextlib

    from starlette.applications import Starlette
    from starlette.routing import Route

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await startup()
        yield
        await shutdown()

    return Starlette(routes=[Route("/v1/chat/completions", forward, methods=["POST"])], lifespan=lifespan)


def aiohttp_app():
    """Starlette + one pooled aiohttp session, nothing else."""
    import aiohttp
    from starlette.responses import Response

    upstream = os.environ["BENCH_UPSTREAM"]
    state = {}

    async def startup():
        state["s"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=512))

    async def shutdown():
        await state["s"].close()

    async def forward(request):
        body = await request.body()
        async with state["s"].post(
            upstream + "/chat/completions", data=body, headers={"content-type": "application/json"}
        ) as r:
            data = await r.read()
            return Response(data, r.status, media_type="application/json")

    return _starlette(forward, startup, shutdown)


def httpx_app():
    """Starlette + one pooled httpx client (default transport), nothing else."""
    import httpx
    from starlette.responses import Response

    upstream = os.environ["BENCH_UPSTREAM"]
    state = {}

    async def startup():
        state["c"] = httpx.AsyncClient(limits=httpx.Limits(max_connections=512, max_keepalive_connections=512))

    async def shutdown():
        await state["c"].aclose()

    async def forward(request):
        body = await request.body()
        r = await state["c"].post(
            upstream + "/chat/completions", content=body, headers={"content-type": "application/json"}
        )
        return Response(r.content, r.status_code, media_type="application/json")

    return _starlette(forward, startup, shutdown)
