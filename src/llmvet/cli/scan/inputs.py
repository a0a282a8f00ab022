"""Turn the command line's inputs (files, folders, globs, `-`, a JSONL file) into documents.

Folders are walked honouring every `.gitignore` on the way down (and skipping `.git`), and only files
of a kind that can name a package or hold a secret are read; a file named on the command line is
always read. A glob's matches skip what a walk of the glob's folder would. Problems with one input are collected, not raised: the rest is still scanned.
"""

from __future__ import annotations

import glob
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from llmvet.cli.scan.documents import (
    PROSE_SUFFIXES,
    RST_SUFFIXES,
    Document,
    InputError,
    decode,
    documents_for,
    fence_language,
    notebook_documents,
    rst_documents,
)

if TYPE_CHECKING:  # imported by the first folder walk or glob: a scan of named files never needs it
    import pathspec

_SKIP_DIRS = {".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox", ".mypy_cache"}


@dataclass(slots=True)
class Inputs:
    documents: list[Document] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # one line each: inputs that could not be checked
    sources: list[str] = field(default_factory=list)  # every input, in order (also those with no findings)


def collect(paths: list[str], jsonl: str | None) -> Inputs:
    found = Inputs()
    for p in paths:
        if p == "-":
            add_text(found, "-", sys.stdin.buffer.read(), is_file=False)
            continue
        matches, skipped = expand_glob(p) if glob.has_magic(p) else ([p], 0)
        if not matches and not skipped:
            found.errors.append(f"{p}: no such file or folder")
        for m in matches:
            if os.path.isdir(m):
                for f in walk(Path(m)):
                    _add_file(found, f, walked=True)
            else:
                _add_file(found, Path(m), walked=False)
    if jsonl:
        _add_jsonl(found, jsonl)
    return found


def wanted(path: Path) -> bool:
    """Is a file found in a folder worth reading? (files named explicitly always are)"""
    return path.suffix.lower() in (PROSE_SUFFIXES - {""}) | {".ipynb"} or fence_language(path) is not None


def walk(root: Path) -> Iterator[Path]:
    """Files under `root`, skipping what a `.gitignore` on the way down ignores."""
    specs: list[tuple[Path, pathspec.GitIgnoreSpec]] = []
    for here, dirs, files in os.walk(root):
        base = Path(here)
        if (spec := _gitignore(base)) is not None:
            specs.append((base, spec))
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not _ignored(base / d, specs, is_dir=True))
        for name in sorted(files):
            f = base / name
            if wanted(f) and not _ignored(f, specs, is_dir=False):
                yield f


def expand_glob(pattern: str) -> tuple[list[str], int]:
    """A glob's matches, less what walking its folder would skip (`'**/*.md'` from a repository's
    root does not read node_modules, .venv or what a `.gitignore` on the way down ignores), and how
    many were skipped (a pattern that matched only ignored files is not a typo)."""
    parts = Path(pattern).parts
    literal = next((i for i, part in enumerate(parts) if glob.has_magic(part)), len(parts))
    root = Path(*parts[:literal]) if literal else Path(".")
    specs: dict[Path, pathspec.GitIgnoreSpec | None] = {}
    matches = sorted(glob.glob(pattern, recursive=True))
    kept = []
    for match in matches:
        path = Path(match)
        try:
            folders = path.relative_to(root).parts[:-1]
        except ValueError:
            kept.append(match)
            continue
        if any(f in _SKIP_DIRS for f in folders):
            continue
        chain = [root.joinpath(*folders[:n]) for n in range(len(folders) + 1)]
        on_the_way = [(d, spec) for d in chain if (spec := specs.setdefault(d, _gitignore(d))) is not None]
        inside = any(_ignored(d, on_the_way, is_dir=True) for d in chain[1:])
        if not inside and not _ignored(path, on_the_way, is_dir=path.is_dir()):
            kept.append(match)
    return kept, len(matches) - len(kept)


def _gitignore(folder: Path) -> pathspec.GitIgnoreSpec | None:
    ignore_file = folder / ".gitignore"
    if not ignore_file.is_file():
        return None
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(ignore_file.read_text(encoding="utf-8", errors="replace").splitlines())


def _ignored(path: Path, specs: list[tuple[Path, pathspec.GitIgnoreSpec]], *, is_dir: bool) -> bool:
    for base, spec in specs:
        try:
            rel = path.relative_to(base).as_posix()
        except ValueError:
            continue
        if spec.match_file(rel + "/" if is_dir else rel):
            return True
    return False


def _add_file(found: Inputs, path: Path, *, walked: bool) -> None:
    source = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        found.errors.append(f"{source}: cannot read: {exc.strerror or exc}")
        return
    if walked and b"\x00" in data[:8192]:
        return  # a binary file met on a walk (an image, a wheel): nothing a validator could read
    add_text(found, source, data, is_file=True, path=path)


def add_text(found: Inputs, source: str, data: bytes, *, is_file: bool, path: Path | None = None) -> None:
    found.sources.append(source)
    try:
        text = decode(data, source)
        if path is not None and path.suffix.lower() == ".ipynb":
            found.documents.extend(notebook_documents(source, text))
        elif path is not None and path.suffix.lower() in RST_SUFFIXES:
            found.documents.extend(rst_documents(source, text, is_file=is_file))
        else:
            language = fence_language(path) if path is not None else None
            found.documents.extend(documents_for(source, text, language=language, is_file=is_file))
    except InputError as exc:
        found.errors.append(str(exc))


def _add_jsonl(found: Inputs, jsonl: str) -> None:
    """Each line `{"id", "text", "prompt"?, "model"?}`; the id names the line's results."""
    try:
        handle = sys.stdin if jsonl == "-" else open(jsonl, encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        found.errors.append(f"{jsonl}: cannot read: {exc.strerror or exc}")
        return
    with handle:
        try:
            for n, line in enumerate(handle, start=1):
                if line.strip():
                    _add_jsonl_line(found, jsonl, n, line)
        except UnicodeDecodeError as exc:
            found.errors.append(f"{jsonl}: not UTF-8 ({exc.reason})")


def _add_jsonl_line(found: Inputs, jsonl: str, n: int, line: str) -> None:
    try:
        item = json.loads(line)
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise ValueError('each line must be an object with a "text" string')
    except ValueError as exc:
        found.errors.append(f"{jsonl}:{n}: {exc}")
        return
    source = str(item.get("id", f"{jsonl}:{n}"))
    found.sources.append(source)
    for doc in documents_for(source, item["text"], language=None, is_file=False):
        doc.prompt = str(item.get("prompt") or "")
        doc.model = str(item["model"]) if item.get("model") else None
        found.documents.append(doc)
