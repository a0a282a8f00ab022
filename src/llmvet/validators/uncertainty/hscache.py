"""Compiled Hyperscan databases kept on disk, so a process compiles a cue set's database only once.

Why: the start index's database (literals.py: keys, strings and the gates of prefilter.py) takes
~1.4 s of CPU to compile, two thirds of loading the shipped cue set (~2.1 s), and every worker
process, `llmvet scan` run and policy reload with new cues compiled it again. Serialized, it is
~6 MB for the shipped cues (the pass's database and one per cue list) and loads in ~5 ms.

What: `compiled(expressions, ids, flags)` returns the database (`compiled_all`: several, one file; a
cue set with gates has one for its pass and one for each name's keys, literals.py), loaded from a file
named by a hash of everything that makes it (the expressions, ids, flags, the hyperscan package
version and this machine's architecture), else compiled and written there (atomically: a temporary file renamed; the
_KEPT newest files are kept). Hyperscan checks a loaded database's version and platform itself; a
file it refuses, or that cannot be read or written, only means a compile. The directory is
`LLMVET_CACHE_DIR`, else the user cache folder (platformdirs: `$XDG_CACHE_HOME/llmvet`, else `~/.cache/llmvet`
on Linux); `LLMVET_CACHE_DIR=""`
turns the cache off. A database is code Hyperscan runs over every answer, and it does not check one
against tampering: a file is read only from a directory and as a file that this user owns and no one
else may write to (a shared or world-writable cache is not used).
"""

from __future__ import annotations

import hashlib
import os
import platform
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import hyperscan
import platformdirs

_KEPT = 16  # databases kept in the directory (see _prune)


def directory() -> Path | None:
    """The cache directory (None: turned off)."""
    configured = os.environ.get("LLMVET_CACHE_DIR")
    if configured is not None:
        return Path(configured) if configured else None
    if not hasattr(os, "getuid"):
        return None  # (no owner to check a file against: not used)
    # (the user cache folder `llmvet scan` keeps its store in; with no home directory to be found,
    # platformdirs raises, or in older releases leaves "~" as it is: a relative path, not used)
    try:
        path = platformdirs.user_cache_path("llmvet", appauthor=False)
    except RuntimeError:
        return None
    return path if path.is_absolute() else None


def _private(path: Path) -> bool:
    """Owned by this user and writable by no one else (no symbolic link followed)."""
    try:
        st = path.lstat()
    except OSError:
        return False
    uid = getattr(os, "getuid", None)
    return uid is not None and not stat.S_ISLNK(st.st_mode) and st.st_uid == uid() and not st.st_mode & 0o022


Part = tuple[list[bytes], list[int], list[int]]  # one database's expressions, ids and flags
_FORMAT = b"2"  # a file holds databases, each as its length (8 bytes, little-endian) and its bytes


def _key(parts: Sequence[Part]) -> str:
    digest = hashlib.sha256(_FORMAT)
    for part in (getattr(hyperscan, "__version__", ""), platform.machine()):
        digest.update(part.encode() + b"\0")
    for expressions, ids, flags in parts:
        digest.update(f"{len(expressions)} {ids!r} {flags!r}".encode() + b"\0")
        for expression in expressions:
            digest.update(len(expression).to_bytes(8, "little") + expression)
    return digest.hexdigest()


def compiled(expressions: list[bytes], ids: list[int], flags: list[int]) -> Any:
    """A block-mode database of `expressions` (raises what `Database.compile` raises)."""
    return compiled_all([(expressions, ids, flags)])[0]


def compiled_all(parts: Sequence[Part]) -> list[Any]:
    """A block-mode database for each part, kept in one file (raises what `Database.compile` raises)."""
    folder = directory()
    path = None if folder is None else folder / f"hyperscan-{_key(parts)}.db"
    if path is not None and _private(path.parent) and _private(path):
        try:
            dbs = _loaded(path.read_bytes(), len(parts))
            os.utime(path)  # (newest again: _prune keeps the databases in use)
            return dbs
        except (OSError, ValueError, hyperscan.error):
            pass  # (another version's or platform's file, or a torn one: compiled again below)
    dbs = []
    for expressions, ids, flags in parts:
        db = hyperscan.Database()
        db.compile(expressions=expressions, ids=ids, elements=len(expressions), flags=flags)
        dbs.append(db)
    if path is not None:
        _store(path, b"".join(len(b).to_bytes(8, "little") + b for b in map(hyperscan.dumpb, dbs)))
    return dbs


def _loaded(data: bytes, n: int) -> list[Any]:
    dbs, at = [], 0
    for _ in range(n):
        size = int.from_bytes(data[at : at + 8], "little")
        blob = data[at + 8 : at + 8 + size]
        if len(blob) != size or size == 0:
            raise ValueError("a torn file")
        dbs.append(hyperscan.loadb(blob, hyperscan.HS_MODE_BLOCK))
        at += 8 + size
    if at != len(data):
        raise ValueError("a torn file")
    return dbs


def _store(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private(path.parent):
            return
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".hyperscan-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
        _prune(path.parent)
    except OSError:
        pass  # (a read-only home, a full disk: the next process compiles too)


def _prune(folder: Path) -> None:
    """Keep the _KEPT newest databases (each cue set edited in a policy makes another, ~6 MB)."""
    files = sorted(folder.glob("hyperscan-*.db"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[_KEPT:]:
        old.unlink(missing_ok=True)
