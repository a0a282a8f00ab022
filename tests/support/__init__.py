"""Shared test helpers, imported as `from tests.support.<module> import ...`.

- servers: free ports, a real redis-server, an ASGI app under uvicorn in a background thread
- metrics: Prometheus exposition text parsed into samples
- fake_upstream: a loopback fake of the OpenAI API
- fake_registry: a loopback fake of PyPI and npm serving the recorded answers in tests/data/packages/
- review_helpers: a policy that escalates, reviewers, a client call in a thread
- embeddings: `needs_embeddings`, the skip mark for tests that need the embeddings extra and its model
"""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent  # the repository: policies/, docs/, Dockerfile
DATA = TESTS / "data"
PLUGIN_PKG = TESTS / "plugin_pkg"  # a third-party validator package; conftest's test_plugin installs a copy
