"""String-method readings of patterns in manifest and import extraction: each must give what its plain
regex definition gives, on the corpora and on generated adversarial text."""

from __future__ import annotations

import re

import pytest

from llmvet.validators.packages import extract_imports, extract_manifests
from tests.support.corpus import with_generated

# The definitions the fast paths replace (as the modules wrote them inline before).
PYPROJECT_TABLE = re.compile(r"^\s*\[(project|tool\.poetry|dependency-groups|build-system)", re.M)
NPM_VERSION = re.compile(r"(?<=.)@[^/]*$")

PIECES = [
    "[", "[[", "]", "\n", "\r\n", " ", "\t", "\x0b", "\x1c", "\u00a0", "\u2028", "\u3000", "#", "x", "=", "\"",
    "project", "project.optional-dependencies", "tool.poetry", "tool.poetr", "dependency-groups", "build-system",
    "build", "tool", ".", "@", "/", "@scope", "pkg", "1.2.3", "^4", "npm:", "latest", "\u00e9", "@@", "//",
]  # fmt: skip


def texts(seed: int, n: int) -> list[str]:
    return with_generated(PIECES, seed, n, 30)


@pytest.mark.parametrize("seed", [1, 2])
def test_pyproject_table_test_is_the_regex_search(seed):
    yes = 0
    for text in texts(seed, 30000):
        expected = PYPROJECT_TABLE.search(text) is not None
        assert extract_manifests.pyproject_table(text) == expected, repr(text)
        yes += expected
    assert yes > 200


@pytest.mark.parametrize("seed", [3, 4])
def test_npm_version_drop_is_the_regex_substitution(seed):
    changed = 0
    for text in texts(seed, 30000):
        for spec in (text, text.strip(), text.strip()[:12]):
            expected = NPM_VERSION.sub("", spec)
            assert extract_imports.drop_npm_version(spec) == expected, repr(spec)
            changed += expected != spec
    assert changed > 1000


@pytest.mark.parametrize("seed", [5])
def test_first_line_is_the_split_reading(seed):
    for text in texts(seed, 30000):
        assert extract_manifests.first_line(text) == text.lstrip().split("\n", 1)[0], repr(text)
