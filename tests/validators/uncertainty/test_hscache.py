"""Compiled Hyperscan databases on disk (hscache.py): used when private, ignored otherwise, one per cue set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from llmvet.validators.uncertainty import hscache
from llmvet.validators.uncertainty.literals import LiteralScan, available

from .test_literals import ANYWHERE, KEYS, flat, naive

pytestmark = pytest.mark.skipif(not available(), reason="no hyperscan")

VIEWS = ["i'm not sure it may part", "x_y # not su", "dismay parts i naive", ""]
OTHER_KEYS = {"zebra": {"z"}}  # a database that finds none of the above


def found(scan: LiteralScan) -> list[dict[str, list[int]]]:
    return [flat(scan.grouped(view)) for view in VIEWS]


def expected() -> list[dict[str, list[int]]]:
    return [naive(KEYS, view, ANYWHERE) for view in VIEWS]


def only_file(folder: Path) -> Path:
    files = list(folder.glob("hyperscan-*.db"))
    assert len(files) == 1, files
    return files[0]


def test_a_database_is_compiled_once_and_then_read_from_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("LLMVET_CACHE_DIR", str(tmp_path / "cache"))
    assert found(LiteralScan(KEYS, ANYWHERE)) == expected()
    path = only_file(tmp_path / "cache")
    assert path.stat().st_mode & 0o077 == 0 and (tmp_path / "cache").stat().st_mode & 0o077 == 0
    assert found(LiteralScan(KEYS, ANYWHERE)) == expected()  # (from the file)
    # The file is what the next scan runs: another database's bytes under its name find nothing.
    LiteralScan(OTHER_KEYS)
    other = next(p for p in (tmp_path / "cache").glob("hyperscan-*.db") if p != path)
    path.write_bytes(other.read_bytes())
    assert found(LiteralScan(KEYS, ANYWHERE)) != expected()


def test_a_torn_file_is_compiled_again_and_replaced(tmp_path, monkeypatch):
    monkeypatch.setenv("LLMVET_CACHE_DIR", str(tmp_path))
    LiteralScan(KEYS, ANYWHERE)
    path = only_file(tmp_path)
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    assert found(LiteralScan(KEYS, ANYWHERE)) == expected()
    assert path.read_bytes() == whole


def test_a_scan_with_gates_keeps_its_databases_in_one_file(tmp_path, monkeypatch):
    """With gates the keys leave the pass for a database per name (literals.py): one file holds them all,
    a torn one is compiled again whole, and each database read back is the one its name needs."""
    monkeypatch.setenv("LLMVET_CACHE_DIR", str(tmp_path))
    gates = [(b"zq+", ("z",))]
    first = LiteralScan(KEYS, ANYWHERE, gates=gates)
    assert first.lazy and found(first) == expected()
    path = only_file(tmp_path)
    assert found(LiteralScan(KEYS, ANYWHERE, gates=gates)) == expected()  # (from the file)
    whole = path.read_bytes()
    for torn in (whole[:-1], whole + b"\0", whole[: len(whole) // 2]):
        path.write_bytes(torn)
        assert found(LiteralScan(KEYS, ANYWHERE, gates=gates)) == expected()
        assert path.read_bytes() == whole


@pytest.mark.parametrize("how", ["group-writable directory", "world-writable file", "symbolic link"])
def test_a_file_others_may_write_is_not_read(tmp_path, monkeypatch, how):
    folder = tmp_path / "cache"
    monkeypatch.setenv("LLMVET_CACHE_DIR", str(folder))
    LiteralScan(KEYS, ANYWHERE)
    path = only_file(folder)
    LiteralScan(OTHER_KEYS)
    other = next(p for p in folder.glob("hyperscan-*.db") if p != path)
    planted = tmp_path / "planted.db"
    planted.write_bytes(other.read_bytes())
    if how == "group-writable directory":
        path.write_bytes(planted.read_bytes())
        folder.chmod(0o770)
    elif how == "world-writable file":
        path.write_bytes(planted.read_bytes())
        path.chmod(0o666)
    else:
        path.unlink()
        path.symlink_to(planted)
    assert found(LiteralScan(KEYS, ANYWHERE)) == expected()


def test_an_empty_setting_turns_the_cache_off(tmp_path, monkeypatch):
    monkeypatch.setenv("LLMVET_CACHE_DIR", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    assert found(LiteralScan(KEYS, ANYWHERE)) == expected()
    assert not list(tmp_path.rglob("*.db"))


def test_processes_with_different_hash_seeds_share_the_shipped_cue_sets_file(tmp_path):
    """The database's name is a hash of its expressions in the order they are compiled: an order that
    followed set iteration (which the hash seed changes) would compile it again in every process."""
    code = "from llmvet.validators.uncertainty.cues import load; assert load('en').starts.literal.gated"
    made = []
    for seed in ("1", "2"):
        env = {**os.environ, "LLMVET_CACHE_DIR": str(tmp_path), "PYTHONHASHSEED": seed}
        subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)
        made.append(sorted(tmp_path.glob("hyperscan-*.db")))
    # (two files: the start index's databases, and the refusal categories' strings, keywords.py)
    assert len(made[0]) == 2 and made[1] == made[0], made


def test_only_the_newest_databases_are_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("LLMVET_CACHE_DIR", str(tmp_path))
    for n in range(hscache._KEPT + 4):
        LiteralScan({f"word{n}": {"w"}})
    assert len(list(tmp_path.glob("hyperscan-*.db"))) == hscache._KEPT
    assert not list(tmp_path.glob(".hyperscan-*"))  # no temporary file left
    assert found(LiteralScan(KEYS, ANYWHERE)) == expected()
    assert len(list(tmp_path.glob("hyperscan-*.db"))) == hscache._KEPT


def test_no_home_directory_means_no_cache_not_a_failure(tmp_path, monkeypatch):
    monkeypatch.delenv("LLMVET_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("HOME", raising=False)
    code = (
        "import pwd, os; pwd.getpwuid = lambda uid: (_ for _ in ()).throw(KeyError(uid));"
        "from llmvet.validators.uncertainty import hscache; assert hscache.directory() is None"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("HOME", "XDG_CACHE_HOME", "LLMVET_CACHE_DIR")}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
