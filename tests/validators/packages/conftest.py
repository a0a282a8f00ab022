"""Fixtures the packages tests share. The registry fixture is not named `fake`: the root conftest's `fake`
(the fake upstream) must stay visible to every test in this folder."""

from __future__ import annotations

import pytest

from llmvet.resources import Resources
from llmvet.store import open_store
from tests.support.fake_registry import running_registry


@pytest.fixture(scope="module")
def fake_registry():
    """The loopback fake registry (recorded responses), one per test module."""
    with running_registry() as reg:
        yield reg


@pytest.fixture
async def res(tmp_path):
    """Shared resources over a fresh SQLite store (the registry cache lives there)."""
    r = Resources(await open_store(f"sqlite:///{tmp_path / 'cache.db'}"))
    yield r
    await r.close()
