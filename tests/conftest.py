from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from support import redis_server  # noqa: E402


@pytest.fixture(scope="session")
def redis_url():
    with redis_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "redis"])
async def store(request, tmp_path_factory):
    """The same store tests run against the embedded SQLite store and a real redis-server."""
    from llmvet.store import open_store

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'llmvet.db'}"
    else:
        url = request.getfixturevalue("redis_url")
    s = await open_store(url)
    if request.param == "redis":
        await s.redis.flushdb()
    yield s
    await s.close()
