"""`llmvet scan --diff BASE[..HEAD]`: judge only what a change adds.

Each changed file is scanned whole in its new version (so a requirement file's index options and a
module's own names still count), then only findings on added lines are kept: an install line, a
manifest entry or an import the change introduces, at its file:line. A notebook's lines are JSON, so
there the unit is the cell: findings in cells whose source is new.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from llmvet.cli.scan.inputs import Inputs, add_text, wanted
from llmvet.cli.scan.runner import Outcome

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")


class DiffError(Exception):
    """git could not say what changed (not a repository, unknown revision): one line for the user."""


@dataclass(slots=True)
class Change:
    added: dict[str, set[int]] = field(default_factory=dict)  # path -> added line numbers
    new_cells: dict[str, set[int]] = field(default_factory=dict)  # notebook path -> cells with new source


def _git(*args: str) -> str:
    try:
        done = subprocess.run(["git", *args], capture_output=True, check=False)
    except OSError as exc:
        raise DiffError(f"cannot run git: {exc.strerror or exc}") from None
    if done.returncode != 0:
        raise DiffError(f"git {args[0]}: {done.stderr.decode(errors='replace').strip().splitlines()[-1:]}")
    return done.stdout.decode("utf-8", errors="surrogateescape")


def split_range(spec: str) -> tuple[str, str | None]:
    """BASE..HEAD -> (BASE, HEAD); BASE alone compares with the working tree (HEAD None)."""
    base, sep, head = spec.partition("..")
    return base, (head.lstrip(".") or "HEAD") if sep else None


def added_lines(base: str, head: str | None) -> dict[str, set[int]]:
    """Path (relative to the current folder) -> line numbers the change adds, for added/changed files."""
    revs = [base, head] if head else [base]
    text = _git("diff", "--relative", "--unified=0", "--no-color", "--no-ext-diff", "--diff-filter=AMR", *revs, "--")
    added: dict[str, set[int]] = {}
    current: set[int] | None = None
    for line in text.splitlines():
        if line.startswith("+++ "):
            name = line[4:]
            current = None if name == "/dev/null" else added.setdefault(name.removeprefix("b/"), set())
        elif current is not None and (m := _HUNK.match(line)):
            start, count = int(m.group(1)), int(m.group(2) or 1)
            current.update(range(start, start + count))
    return added


def collect_diff(spec: str) -> tuple[Inputs, Change]:
    base, head = split_range(spec)
    change = Change(added=added_lines(base, head))
    found = Inputs()
    for path, lines in change.added.items():
        if not lines or not wanted(Path(path)):
            continue
        data = _git("show", f"{head}:./{path}").encode("utf-8", "surrogateescape") if head else _read(path)
        add_text(found, path, data, is_file=True, path=Path(path))
        if path.endswith(".ipynb"):
            change.new_cells[path] = _new_cells(_cells(data), _cells(_old(base, path)))
    return found, change


def keep_added(outcomes: dict[str, Outcome], change: Change) -> None:
    """Drop findings on lines (cells) the change did not add; the action follows what is left."""
    for source, out in outcomes.items():
        if source in change.new_cells:
            out.findings = [f for f in out.findings if f.doc.cell in change.new_cells[source]]
        else:
            lines = change.added.get(source, set())
            out.findings = [f for f in out.findings if f.line in lines]
        if not any(f.fails for f in out.findings):
            out.action = "allow"


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise DiffError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _old(base: str, path: str) -> bytes:
    try:
        return _git("show", f"{base}:./{path}").encode("utf-8", "surrogateescape")
    except DiffError:
        return b""  # a new file: every cell is new


def _cells(data: bytes) -> list[str]:
    try:
        cells = json.loads(data or b"{}").get("cells", [])
        return [
            "".join(c.get("source", "")) if isinstance(c.get("source"), list) else str(c.get("source")) for c in cells
        ]
    except (ValueError, AttributeError, TypeError):
        return []


def _new_cells(new: list[str], old: list[str]) -> set[int]:
    before = set(old)
    return {n for n, source in enumerate(new, start=1) if source not in before}
