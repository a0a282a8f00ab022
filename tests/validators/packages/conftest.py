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


def pypi_policy(registry_url: str, on_fail: str, extra: str = "") -> str:
    """A policy of one rule: the packages validator on PyPI through the fake registry at `registry_url`."""
    return f"""
rules:
  - name: packages
    validators:
      - use: packages
        with: {{pypi_index_url: "{registry_url}/simple", pypi_json_url: "{registry_url}/pypi", ecosystems: [pypi]}}
    on_fail: {on_fail}
{extra}"""
