"""`llmvet scan` as CI runs it: separate processes, real files and git repositories, the loopback fake
registry (recorded answers) behind the packages validator."""

from __future__ import annotations

import os
import subprocess
import textwrap

import pytest

from tests.support.fake_registry import running_registry


@pytest.fixture(scope="module")
def registry():
    with running_registry() as reg:
        yield reg


@pytest.fixture(autouse=True)
def _reset(request):
    if "registry" in request.fixturenames:
        reg = request.getfixturevalue("registry")
        reg.delay, reg.fail = 0.0, False
    yield


@pytest.fixture
def packages_policy(registry, tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text(
        textwrap.dedent(f"""\
            rules:
              - name: supply-chain
                validators:
                  - use: packages
                    with: {{pypi_index_url: "{registry.url}/simple", pypi_json_url: "{registry.url}/pypi",
                            npm_registry_url: "{registry.url}/npm"}}
                  - use: regex
                    id: secrets
                    with: {{must_not_match: ['\\bAKIA[0-9A-Z]{{16}}\\b']}}
                on_fail: block
                on_error: open
            """)
    )
    return path


def scan(*args, cwd=None, input=None, env=None, store=None, timeout=120):
    """Run `llmvet scan` in its own process, as a CI step does."""
    full_env = {k: v for k, v in os.environ.items() if k != "LLMVET_STORE"}
    full_env["COLUMNS"] = "250"  # tables on one line each, so tests can read them
    full_env.update(env or {})
    extra = ["--store", store] if store else []
    return subprocess.run(
        ["llmvet", "scan", *args, *extra],
        capture_output=True,
        text=True,
        cwd=cwd,
        input=input,
        env=full_env,
        timeout=timeout,
    )


def line_of(text: str, needle: str) -> int:
    """The 1-based line of the first occurrence of `needle`, found independently of the scanner."""
    return text[: text.index(needle)].count("\n") + 1


def git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def init_repo(path):
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "ci@example.invalid")
    git(path, "config", "user.name", "ci")
    git(path, "config", "commit.gpgsign", "false")
    return path
