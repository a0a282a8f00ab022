"""Wake-ups within one process: the SQLite store's publish/subscribe.

SQLite has no way to tell another process that something changed, so its channels reach the
subscribers of the same store object only; other processes sharing the file fall back to polling.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator


class LocalChannels:
    def __init__(self) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[str]]] = {}

    def publish(self, channel: str, message: str) -> None:
        for queue in self._subscribers.get(channel, ()):
            queue.put_nowait(message)

    async def subscribe(self, channel: str) -> AsyncIterator[str | None]:
        """None once subscribed (the Store contract's "look again" mark), then every message."""
        queue: asyncio.Queue[str] = asyncio.Queue()
        subscribers = self._subscribers.setdefault(channel, set())
        subscribers.add(queue)
        try:
            yield None
            while True:
                yield await queue.get()
        finally:
            subscribers.discard(queue)
