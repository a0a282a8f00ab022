"""Baselines for benchmarks/overhead.py: a canned upstream and bare pass-through proxies.

Run with uvicorn's factory mode, e.g. `uvicorn bare:upstream_app --factory` (PYTHONPATH=benchmarks).
"""

from __future__ import annotations

import itertools
import os

import orjson

# The answers the canned upstream gives, picked by the request's model: "bench-short" gets SHORT,
# "bench-distinct" the next of a pool of different ~1 KB coding answers (benchmarks/distinct.py), any
# other model the realistic ~1 KB coding answer (install line, code block, prose, a confidence
# statement), which is what llmvet's validators read in a coding assistant.
SHORT = "ok"
REALISTIC = """To read a CSV file in Python, use pandas. Install it first:

```bash
pip install pandas
```

Then load the file into a DataFrame:

```python
import pandas as pd

df = pd.read_csv("sales.csv", parse_dates=["date"])
monthly = df.groupby(df["date"].dt.to_period("M"))["amount"].sum()
print(monthly.head())
```

`read_csv` infers the column types, parses the dates you name in `parse_dates`, and returns a
DataFrame you can filter, group and plot. For very large files pass `chunksize=100_000` to get an
iterator of smaller frames, or `usecols=[...]` to read only the columns you need. If the file uses
a semicolon as separator (common in European exports), add `sep=";"`; for another encoding, add
`encoding="latin-1"`. Without pandas, the standard library's `csv` module works too:
`csv.DictReader(open(path, newline=""))` yields one dict per row.

I'm fairly confident about these options: they have been stable for years, but check the pandas
documentation for your version if an argument is rejected.
"""


def chat_response(text: str) -> bytes:
    return orjson.dumps(
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
                    "message": {"role": "assistant", "content": text},
                }
            ],
            "usage": {"prompt_tokens": 20, "completion_tokens": 60, "total_tokens": 80},
        }
    )


ANSWERS = {"short": chat_response(SHORT), "realistic": chat_response(REALISTIC)}
CHAT_RESPONSE = ANSWERS["realistic"]


def distinct_pool() -> list[bytes]:
    """BENCH_POOL (default 20,000) different answers, each served in turn (built once per process)."""
    from distinct import distinct_answers

    return [chat_response(text) for text in distinct_answers(int(os.environ.get("BENCH_POOL", "20000")))]


def upstream_app():
    """The fastest upstream we can make in Python: raw ASGI, a canned chat completion per answer."""
    pool: list[bytes] = []
    served = itertools.count()

    def pick(body: bytes) -> bytes:
        if b'"bench-short"' in body:
            return ANSWERS["short"]
        if b'"bench-distinct"' in body:
            if not pool:
                pool.extend(distinct_pool())
            return pool[next(served) % len(pool)]
        return CHAT_RESPONSE

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        more, body = True, b""
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        answer = pick(body)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(answer)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer})

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


def _aiohttp_stream_app(relay: bool):
    """Starlette + one pooled aiohttp session asking for a streamed answer: the upstream's events
    relayed read by read (`relay`), or read whole and sent at once. What any event-by-event relay on
    this stack costs over a buffered one, before any parsing or checking (benchmarks/streaming.py)."""
    import aiohttp
    from starlette.responses import Response, StreamingResponse

    upstream = os.environ["BENCH_UPSTREAM"]
    state = {}

    async def startup():
        state["s"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=512), auto_decompress=False)

    async def shutdown():
        await state["s"].close()

    async def forward(request):
        body = await request.body()
        r = await state["s"].post(
            upstream + "/chat/completions", data=body, headers={"content-type": "application/json"}
        )
        if not relay:
            try:
                return Response(await r.read(), r.status, media_type="text/event-stream")
            finally:
                r.release()

        async def chunks():
            try:
                async for chunk in r.content.iter_any():
                    yield chunk
            finally:
                r.close()

        return StreamingResponse(chunks(), r.status, media_type="text/event-stream")

    return _starlette(forward, startup, shutdown)


def stream_relay_app():
    return _aiohttp_stream_app(relay=True)


def stream_buffer_app():
    return _aiohttp_stream_app(relay=False)
