"""Shared, expensive things created once per process (in the app lifespan, or by `llmvet scan`).

Validators reach them through `ctx.resources`, so nothing is loaded or connected per request.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
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
        """Build `factory()` once per process in the thread pool (e.g. an embedding model) and share it."""
        if key in self._singletons:
            return self._singletons[key]
        lock = self._singleton_locks.setdefault(key, asyncio.Lock())
        async with lock:
            if key not in self._singletons:
                self._singletons[key] = await self.run_cpu(factory)
        return self._singletons[key]

    async def close(self) -> None:
        if self._http is not None and not self._http.closed:
            await self._http.close()
        self._cpu_pool.shutdown(wait=False, cancel_futures=True)
        await self.store.close()
