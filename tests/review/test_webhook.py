"""Decision webhooks: signing, and what shutdown does to deliveries still in flight."""

from __future__ import annotations

import asyncio
import time

import aiohttp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from llmvet.review.webhook import Webhook, sign, verify
from tests.support.servers import ThreadedServer


def test_signatures_verify_and_tampering_fails():
    body = b'{"event":"review.decided"}'
    header = sign("s3cret", int(time.time()), body)
    assert verify("s3cret", header, body)
    assert not verify("s3cret", header, body + b" ")
    assert not verify("other", header, body)
    assert not verify("s3cret", sign("s3cret", int(time.time()) - 3600, body), body)  # replayed
    assert not verify("s3cret", "garbage", body)
    assert not verify("s3cret", f"t={int(time.time())},v1=é", body)  # a forged non-ASCII header: False, no TypeError


def test_drain_drops_deliveries_still_pending_so_none_outlive_the_session():
    async def slow(request: Request) -> Response:
        await asyncio.sleep(3)
        return Response(status_code=204)

    with ThreadedServer(Starlette(routes=[Route("/hook", slow, methods=["POST"])])) as server:

        async def go() -> tuple[int, float]:
            hook = Webhook(server.url + "/hook", "k", attempts=2, timeout=10)
            async with aiohttp.ClientSession() as http:
                hook.send_soon(http, {"event": "review.decided"})
                await asyncio.sleep(0.2)
                started = time.monotonic()
                await hook.drain(timeout=0.3)
                return len(hook._tasks), time.monotonic() - started

        left, took = asyncio.run(go())
    assert left == 0 and took < 5
