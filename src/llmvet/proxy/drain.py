"""Graceful drain: on SIGTERM a replica fails /readyz, finishes its in-flight requests, then exits.

uvicorn, left alone, closes its listening socket on SIGTERM: the load balancer sees refused connections
instead of a failing readiness check, and held requests are cut after its 10 s grace. So the app wraps
uvicorn's SIGTERM handler (uvicorn installs it before the app's lifespan starts): the first SIGTERM
starts the drain, and uvicorn's own shutdown begins only when the drain is over. During the drain
/readyz answers 503 "draining", new /v1 requests get an OpenAI-shaped 503 (SDKs retry it, through the
load balancer, on another replica) and requests already running go on. Requests held for a reviewer
would wait far longer than any grace period: once they are all that is left (or `drain_timeout`
passes), extensions answer what they hold (the review queue: a "pending" answer with the review id,
as a deferred escalation gets, while the item stays decidable on every replica) before the process
exits. A second SIGTERM, or Ctrl+C, shuts down at once.

With `serve --workers N` every worker gets the SIGTERM and drains on its own, but they share one
listening socket: a worker with nothing in flight would stop at once, and a connection the kernel gave
it in that moment was reset instead of answered 503. So the workers form a `WorkerGroup` (lock files
`serve` names in LLMVET_WORKER_GROUP): one done draining keeps answering until no sibling still drains.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import threading
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from llmvet.errors import error_response

log = logging.getLogger("llmvet.drain")
RELEASE_GRACE = 5.0  # seconds for released requests to write their answer before uvicorn's shutdown
HELD_CHECK = 0.05  # seconds between looks at "are only held requests left?" during a drain
NOT_COUNTED = ("/healthz", "/readyz", "/metrics")  # probes and scrapes never hold a drain open
GROUP_ENV = "LLMVET_WORKER_GROUP"  # the lock file of one `serve --workers N` (set by serve for its workers)


SIBLING_GRACE = 0.5  # seconds a drained worker waits for siblings' SIGTERM to arrive (see WorkerGroup)


class WorkerGroup:
    """The workers of one `serve --workers N`, through two lock files each worker holds shared: the
    group file while it serves normally, and `<file>.draining` from its SIGTERM until its own drain is
    over. A worker done draining keeps answering (503 for new work) while a sibling still drains with
    work in flight: when the whole serve stops, the last busy worker is not left alone on a socket the
    others stopped serving mid-accept. When only this worker stops (uvicorn replacing it on SIGHUP, one
    fewer on SIGTTOU) the siblings go on serving normally, and it leaves after `SIBLING_GRACE`."""

    def __init__(self, path: str) -> None:
        self._serving = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._draining = os.open(path + ".draining", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._serving, fcntl.LOCK_SH)
        self._stopping = False

    @classmethod
    def from_env(cls) -> WorkerGroup | None:
        path = os.environ.get(GROUP_ENV)
        return cls(path) if path else None

    def stopping(self) -> None:
        """SIGTERM came: from serving normally to draining (called in the signal handler: at once)."""
        if not self._stopping:
            self._stopping = True
            fcntl.flock(self._draining, fcntl.LOCK_SH)
            fcntl.flock(self._serving, fcntl.LOCK_UN)

    async def siblings_done(self, timeout: float) -> bool:
        """This worker's drain is over: wait until no sibling drains with work left, and either every
        sibling stops too or, after SIBLING_GRACE, they go on serving. False when out of time."""
        self.stopping()
        fcntl.flock(self._draining, fcntl.LOCK_UN)
        loop = asyncio.get_running_loop()
        deadline, serving_since = loop.time() + timeout, None
        while True:
            if not _held(self._draining):
                if not _held(self._serving):
                    return True  # the whole serve stops, and every sibling is done
                serving_since = serving_since or loop.time()
                if loop.time() - serving_since >= SIBLING_GRACE:
                    return True  # only this worker stops: the siblings serve the socket
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(HELD_CHECK)

    def close(self) -> None:
        for fd in (self._serving, self._draining):
            with contextlib.suppress(OSError):
                os.close(fd)


def _held(fd: int) -> bool:
    """Whether another process holds the file's lock (a look only: never kept)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    fcntl.flock(fd, fcntl.LOCK_UN)
    return False


class Drain:
    """The replica's drain state: whether it is draining and how many requests are in flight."""

    def __init__(
        self, timeout: float, release: Callable[[], Awaitable[None]], held: Callable[[], int] = lambda: 0
    ) -> None:
        self.timeout = timeout
        self.group: WorkerGroup | None = None  # set when this process is one of several workers
        self.release = release  # answers held requests (once only they are left, or the timeout passed)
        self.held = held  # how many in-flight requests wait for a reviewer now
        self.draining = False
        self.in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous: Callable[[int, FrameType | None], Any] | None = None
        self._task: asyncio.Task[None] | None = None

    # ---- the signal -----------------------------------------------------------------------------------
    def install(self) -> None:
        """Put the drain in front of the server's SIGTERM handler (main thread only, as signals are)."""
        if threading.current_thread() is not threading.main_thread():
            return
        previous = signal.getsignal(signal.SIGTERM)
        if not callable(previous):  # no server handler to hand over to: keep the default behaviour
            return
        self._loop = asyncio.get_running_loop()
        self._previous = previous
        self.group = WorkerGroup.from_env()
        signal.signal(signal.SIGTERM, self._on_sigterm)

    def uninstall(self) -> None:
        if self._previous is not None and signal.getsignal(signal.SIGTERM) == self._on_sigterm:
            signal.signal(signal.SIGTERM, self._previous)
        if self._task is not None:
            self._task.cancel()
        if self.group is not None:
            self.group.close()

    def _on_sigterm(self, sig: int, frame: FrameType | None) -> None:
        assert self._previous is not None and self._loop is not None
        if self.draining:  # asked twice: stop now
            self._previous(sig, frame)
            return
        self.draining = True
        if self.group is not None:
            self.group.stopping()
        self._loop.call_soon_threadsafe(self._start, sig)

    def _start(self, sig: int) -> None:
        self._task = asyncio.get_running_loop().create_task(self._drain_then_exit(sig), name="llmvet-drain")

    async def _drain_then_exit(self, sig: int) -> None:
        try:
            await self.run()
        finally:
            if self._previous is not None:
                self._previous(sig, None)  # the server's own shutdown from here on

    # ---- the drain ------------------------------------------------------------------------------------
    async def run(self) -> None:
        started = asyncio.get_running_loop().time()
        await self._drain()
        if self.group is not None:  # keep answering 503 while another worker still drains
            left = self.timeout + RELEASE_GRACE - (asyncio.get_running_loop().time() - started)
            if not await self.group.siblings_done(max(left, 0.0)):
                log.warning("stopping while another worker still drains (out of time)")

    async def _drain(self) -> None:
        self.draining = True
        log.info("draining: %d request(s) in flight, waiting up to %.0fs", self.in_flight, self.timeout)
        await self._wait_only_held(self.timeout)
        if self._idle.is_set():
            log.info("drained: no request in flight")
            return
        log.warning(
            "draining: %d request(s) in flight, %d held for review; releasing those", self.in_flight, self.held()
        )
        try:
            await self.release()
        except Exception:
            log.exception("could not release held requests")
        await self._wait_idle(RELEASE_GRACE)

    async def _wait_only_held(self, timeout: float) -> None:
        """Until every request still in flight is one held for review (or none is left), or timeout."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self.in_flight > self.held():
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return
            await self._wait_idle(min(left, HELD_CHECK))

    async def _wait_idle(self, timeout: float) -> bool:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout)
        return self._idle.is_set()

    @staticmethod
    def refusal() -> Response:
        """What a new /v1 request gets while the replica drains: an OpenAI-shaped 503 to retry elsewhere."""
        return error_response(
            503,
            "this llmvet replica is shutting down; retry the request",
            "server_error",
            "draining",
            headers={"retry-after": "1", "connection": "close"},
        )

    async def counted(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send, *, refuse: bool) -> None:
        """Run one request as in flight (its stream until the last byte); while draining, a request
        that is new work (`refuse`) gets the 503 instead."""
        if refuse and self.draining:
            await self.refusal()(scope, receive, send)
            return
        self.enter()
        try:
            await app(scope, receive, send)
        finally:
            self.leave()

    def enter(self) -> None:
        self.in_flight += 1
        self._idle.clear()

    def leave(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            self._idle.set()


class DrainMiddleware:
    """Counts in-flight HTTP requests (streams until their last byte) and turns new /v1 work away."""

    def __init__(self, app: ASGIApp, drain: Drain) -> None:
        self.app = app
        self.drain = drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in NOT_COUNTED:
            await self.app(scope, receive, send)
            return
        await self.drain.counted(self.app, scope, receive, send, refuse=scope["path"].startswith("/v1/"))
