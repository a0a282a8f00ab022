"""The app uvicorn serves: the vetted routes go straight to their handler, everything else through Starlette.

Nearly all traffic is POST to one of three paths. Through Starlette each such request crossed its error
and exception middlewares, the router's matching of every route, the route's request/response wrapper
and their `send` wrappers before reaching the handler (measured: a third of the app's own CPU per
request outside the upstream call and the validators, see benchmarks/overhead.py). Here a dict lookup
on the path finds the handler; the drain counts it (`Drain.counted`, as its middleware does); the
extensions' middleware (observe's counters and provenance headers) still wraps it, so every vetted
request is seen as before. Anything
else (health, admin, extension routes, pass-through, a vetted path with another method) is Starlette's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from llmvet.proxy.drain import Drain, DrainMiddleware

Endpoint = Callable[[Request], Awaitable[Response]]


def asgi_endpoint(endpoint: Endpoint) -> ASGIApp:
    """A request handler as a bare ASGI app (Starlette's route wrapper, less its exception handling:
    the vetted handlers turn their own errors into responses, and uvicorn answers 500 for the rest)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = await endpoint(Request(scope, receive, send))
        await response(scope, receive, send)

    return app


class ProxyApp(Starlette):
    """Starlette (lifespan, state, every other route), with a direct way in for the vetted routes."""

    def __init__(self, *, vetted: Sequence[Route], drain: Drain, middleware: Sequence[Middleware], **kwargs: Any):
        super().__init__(middleware=middleware, **kwargs)
        self.drain = drain
        # path -> (route, handler inside the extensions' middleware). Drain's own middleware is the
        # flag check below, so it is left out here.
        self._direct: dict[str, tuple[dict[str, Any], ASGIApp]] = {}
        for route in vetted:
            app: ASGIApp = asgi_endpoint(route.endpoint)
            for cls, args, options in reversed([m for m in middleware if m.cls is not DrainMiddleware]):
                app = cls(app, *args, **options)
            # what Starlette's router would have put in the scope (observe labels metrics by the route)
            found = {"app": self, "router": self.router, "route": route, "endpoint": route.endpoint, "path_params": {}}
            self._direct[route.path] = (found, app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            direct = self._direct.get(scope["path"])
            if direct is not None:
                found, app = direct
                scope.update(found)
                await self.drain.counted(app, scope, receive, send, refuse=True)
                return
        await super().__call__(scope, receive, send)
