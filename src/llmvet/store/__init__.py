"""Storage backends behind one interface; `open_store(url)` picks one from a URL."""

from __future__ import annotations

from pathlib import Path

from llmvet.store.base import Store

__all__ = ["Store", "open_store"]


async def open_store(url: str) -> Store:
    """`sqlite:///path/to/file.db` (or a bare path) for the embedded store; `redis://…` for Redis."""
    if url.startswith(("redis://", "rediss://", "unix://")):
        from llmvet.store.redis_store import RedisStore

        store: Store = RedisStore(url)
    else:
        from llmvet.store.sqlite_store import SQLiteStore

        path = url.removeprefix("sqlite:///").removeprefix("sqlite://")
        store = SQLiteStore(Path(path) if path != ":memory:" else path)
    await store.open()  # type: ignore[attr-defined]
    return store
