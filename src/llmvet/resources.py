"""Shared, expensive things created once per process (in the app lifespan, or by `llmvet scan`).

Validators reach them through `ctx.resources`, so nothing is loaded or connected per request.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import contextvars
import functools
import logging
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from llmvet.store.base import Store

if TYPE_CHECKING:  # imported on first use: a `llmvet scan` whose validators make no request skips it
    import aiohttp

T = TypeVar("T")


class Resources:
    def __init__(self, store: Store, *, cpu_threads: int = 2, lookup_connections: int = 64) -> None:
        self.store = store
        self._cpu_pool = ThreadPoolExecutor(max_workers=cpu_threads, thread_name_prefix="llmvet-cpu")
        self._lookup_connections = lookup_connections
        self._http: aiohttp.ClientSession | None = None
        self._singletons: dict[Any, Any] = {}
        self._singleton_locks: dict[Any, asyncio.Lock] = {}

    @property
    def http(self) -> aiohttp.ClientSession:
        """One pooled HTTP session for validators' lookups (registries, webhooks)."""
        if self._http is None or self._http.closed:
            import aiohttp

            self._http = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._lookup_connections, ttl_dns_cache=300),
                timeout=aiohttp.ClientTimeout(total=30),
                trust_env=True,  # honour HTTPS_PROXY etc. for corporate networks
            )
        return self._http

    async def run_cpu(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run CPU-bound work off the event loop."""
        loop = asyncio.get_running_loop()
        call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
        return await loop.run_in_executor(self._cpu_pool, call)

    async def singleton(self, key: Any, factory: Callable[[], T]) -> T:
        """Build `factory()` once per process (e.g. an embedding model) off the event loop and share it.

        It runs in a daemon thread of its own, not the pool: a load that hangs (a model download
        retrying an unreachable hub for a minute) must not hold up the process's exit, and the pool's
        threads are waited for at exit."""
        if key in self._singletons:
            return self._singletons[key]
        lock = self._singleton_locks.setdefault(key, asyncio.Lock())
        async with lock:
            if key not in self._singletons:
                self._singletons[key] = await run_detached(factory)
        return self._singletons[key]

    async def close(self) -> None:
        if self._http is not None and not self._http.closed:
            await self._http.close()
        self._cpu_pool.shutdown(wait=False, cancel_futures=True)
        await self.store.close()


async def run_detached(fn: Callable[[], T]) -> T:
    """`fn()` in a daemon thread; its result or exception comes back to the awaiting task. Cancelling
    the await leaves the thread to finish (or die with the process) on its own."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()
    context = contextvars.copy_context()

    def settle(result: Any, error: BaseException | None) -> None:
        if done.done():  # the awaiting task was cancelled
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(result)

    def work() -> None:
        try:
            result, error = context.run(fn), None
        except BaseException as exc:
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting any more
            loop.call_soon_threadsafe(settle, result, error)

    thread = threading.Thread(target=work, name="llmvet-load", daemon=True)
    _loaders.add(thread)
    thread.start()
    return await done


# Daemon threads still inside native code (torch) when the interpreter finalizes abort the process
# ("terminate called without an active exception"), so at exit a load still running is waited for, up
# to EXIT_WAIT seconds. A server that has stopped does not wait: it calls exit_now_if_loading.
EXIT_WAIT = 60.0
_loaders: weakref.WeakSet[threading.Thread] = weakref.WeakSet()


@atexit.register
def _wait_for_loaders() -> None:
    deadline = time.monotonic() + EXIT_WAIT
    for thread in list(_loaders):
        thread.join(max(0.0, deadline - time.monotonic()))


def exit_now_if_loading(code: int) -> None:
    """End the process at once if a load is still running (it may never finish: a hub retried with
    threads of its own, which a normal exit would wait for); logs are flushed first."""
    if any(t.is_alive() for t in list(_loaders)):
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
