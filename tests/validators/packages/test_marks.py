"""marks.py: one Hyperscan pass for where install commands may start, where file words stand and where a
folder-making command may start; it must give what extraction finds without it (the command and folder
matches: test_fast_paths.test_commands_are_the_regex_matches, test_created_folder_names_are_the_regex_matches)."""

from __future__ import annotations

import re

import pytest

from llmvet import text as parse
from llmvet.validators.packages import extract, extract_commands, extract_imports, manifest_names, marks, scan
from tests.support.corpus import with_generated

pytestmark = pytest.mark.skipif(not marks.available(), reason="no pyperscan")

PIECES = [*manifest_names.FILENAME_WORDS, "REQUIREMENTS", "Setup.Py", "PIPFILE", "\u017fetup.py", "pac\u212aage.json",
          "setup.pyproject.toml", "requirementsrequirements", "x", " ", "\n", "\u00e9", ".", "setup", "package", "pip",
          "pip install ", "npm i ", "uv add ", "uvx ", "micromamba install ", "yarn global add ", "```\n", "```toml\n",
          "flask==2.0\n", "[project]\n", "bun create x", "pnpm dlx y", "python3 -m pip install z"]  # fmt: skip


def texts(seed: int, n: int) -> list[str]:
    return with_generated(PIECES, seed, n, 30)


def test_file_words_are_what_file_words_finds_without_hyperscan():
    found = 0
    for text in texts(41, 20000):
        got = marks.marks(text)
        assert got is not None
        assert got[1] == manifest_names.FileWords(text)._word_starts(), text
        found += len(got[1])
    assert found > 20000


def test_the_command_starts_hold_every_match():
    """Every place `_CMD` matches is among the command starts (each form reported at its leftmost start)."""
    found = 0
    for text in texts(43, 20000):
        starts = set(marks.marks(text)[0])  # type: ignore[index]
        for m in extract_commands._CMD.finditer(text):
            assert m.start() in starts, text
            found += 1
    assert found > 20000


def test_extraction_without_hyperscan_finds_the_same(monkeypatch):
    """With the package missing, marks gives None and extraction searches as before: the same refs."""
    generated = texts(47, 3000)
    with_marks = [extract.extract(t, parse.code_blocks(t, parse.find_fences(t))) for t in generated]
    monkeypatch.setattr(marks.multipattern, "pyperscan", None)
    assert marks.marks("pip install x") is None
    without = [extract.extract(t, parse.code_blocks(t, parse.find_fences(t))) for t in generated]
    assert without == with_marks
    assert sum(len(e.refs) for e in without) > 3000


def test_the_folder_starts_are_every_start_of_the_relaxed_form():
    """Every place the relaxed folder-command form (as RE2 reads it over the ASCII view) starts, no other."""
    form = re.compile("(?=" + extract_imports.CREATED_FORM.replace(r"\s", scan.SPACE) + ")")
    pieces = ["cd ", "cd\t", "cd\u3000", "mkdir -p ", "mkdir\x0b-p  ", "startapp ", "startproject", "abcd ", "x", "_",
              "\u00e9", "-", "\n", " "]  # fmt: skip
    found = 0
    for text in with_generated(pieces, 53, 20000, 20):
        expected = [m.start() for m in form.finditer(scan.ascii_view(text).decode())]
        assert marks.marks(text)[2] == expected, text  # type: ignore[index]
        found += len(expected)
    assert found > 20000
