"""ProxyApp: vetted routes taken directly still pass the extensions' middleware and the drain; the rest is
Starlette's as before."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from llmvet.proxy.drain import Drain, DrainMiddleware
from llmvet.proxy.front import ProxyApp


class Recorder:
    """An extension-style pure ASGI middleware: notes each request's route and adds a header."""

    def __init__(self, app: Any, seen: list[tuple[str, str, str | None]]) -> None:
        self.app, self.seen = app, seen

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def tagged(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), (b"x-recorded", b"1")]
            await send(message)

        try:
            await self.app(scope, receive, tagged)
        finally:
            route = scope.get("route")
            self.seen.append((scope["method"], scope["path"], getattr(route, "path", None)))


def build(seen: list[Any], drain: Drain, gate: asyncio.Event | None = None) -> ProxyApp:
    async def vetted(request: Request) -> Response:
        if gate is not None:
            await gate.wait()
        return JSONResponse({"echo": (await request.body()).decode(), "in_flight": drain.in_flight})

    async def other(request: Request) -> Response:
        return JSONResponse({"other": True})

    route = Route("/v1/chat/completions", vetted, methods=["POST"])
    return ProxyApp(
        vetted=[route],
        drain=drain,
        routes=[route, Route("/v1/models", other, methods=["GET"])],
        middleware=[Middleware(DrainMiddleware, drain=drain), Middleware(Recorder, seen=seen)],
    )


async def noop() -> None:
    return None


async def test_vetted_requests_pass_extension_middleware_with_their_route_and_are_counted() -> None:
    seen: list[Any] = []
    drain = Drain(1.0, noop)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=build(seen, drain)), base_url="http://t") as c:
        r = await c.post("/v1/chat/completions", content=b'{"model":"m"}')
        other = await c.get("/v1/models")
        wrong_method = await c.get("/v1/chat/completions")
    assert r.status_code == 200 and r.json() == {"echo": '{"model":"m"}', "in_flight": 1}
    assert r.headers["x-recorded"] == "1" and other.headers["x-recorded"] == "1"
    assert other.json() == {"other": True} and wrong_method.status_code == 405
    assert seen == [
        ("POST", "/v1/chat/completions", "/v1/chat/completions"),
        ("GET", "/v1/models", "/v1/models"),
        ("GET", "/v1/chat/completions", "/v1/chat/completions"),
    ]
    assert drain.in_flight == 0


async def test_a_draining_replica_refuses_new_vetted_requests_and_waits_for_running_ones() -> None:
    seen: list[Any] = []
    drain, gate = Drain(1.0, noop), asyncio.Event()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=build(seen, drain, gate)), base_url="http://t") as c:
        running = asyncio.create_task(c.post("/v1/chat/completions", content=b"{}"))
        while drain.in_flight == 0:
            await asyncio.sleep(0.01)
        drain.draining = True
        refused = await c.post("/v1/chat/completions", content=b"{}")
        gate.set()
        finished = await running
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "draining"
    assert refused.headers["retry-after"] == "1"
    assert finished.status_code == 200 and finished.json()["in_flight"] == 1
    assert len(seen) == 1 and drain.in_flight == 0  # the refused one never reached the extensions
