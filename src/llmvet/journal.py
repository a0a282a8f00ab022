"""The audit log's write-ahead journal: every record is a line in a local file before `record()` returns.

One `os.write` on an O_APPEND descriptor per record puts it in the OS page cache, which outlives the
process (kill -9, an out-of-memory kill); only a power loss or a kernel crash can lose it, unless
`fsync` is on (one `fdatasync` per record: then the record is on the disk before the client is answered).

Layout: `<journal folder>/<store tag>/worker-<n>/<segment>.jsonl`. The store tag keeps the records of
one store away from another's. Every process (a replica, or a worker of `serve --workers N`) holds one
worker slot with `flock` for its life (the kernel lets go when the process dies, whatever the way), so
no two processes ever write one slot, and replicas on one machine may share the folder (a volume) as
long as it is local: `flock` is not reliable across machines on a network file system. The writer
seals the open segment before it ships a batch and deletes sealed segments only once every record in
them is in the store. On start,
segments left by a dead process (of this slot or of any free slot) are replayed, exactly once: each
record carries `audit_id` = `<journal token>-<seq>`, and every batch written to the store moves the
token's high-water mark (store namespace `journal`) in the same atomic write.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import logging
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson

log = logging.getLogger("llmvet.audit")
_SEGMENT = re.compile(r"^(\d{10})\.jsonl$")
_SLOT = re.compile(r"^worker-(\d+)$")
MAX_SLOTS = 256  # worker slots tried per store tag


class JournalBusy(RuntimeError):
    """Every worker slot of the journal folder is held by a live process."""


def store_tag(store_url: str) -> str:
    """A short, stable name for a store (credentials left out, a SQLite path made absolute)."""
    if "://" in store_url and not store_url.startswith("sqlite:"):
        parts = urlsplit(store_url)
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        canonical = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    else:
        path = store_url.removeprefix("sqlite:///").removeprefix("sqlite://")
        canonical = "sqlite:///" + (path if path == ":memory:" else str(Path(path).resolve()))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def try_lock(path: Path) -> int | None:
    """An fd holding an exclusive flock on `path` (created if absent), or None when another holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return None
        raise
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


@dataclass
class Leftover:
    """Segments a dead process left in a slot, with the slot's lock held while they are replayed."""

    slot: Path
    segments: list[Path]
    lock_fd: int | None  # None: our own slot (its lock is the journal's)
    records: list[dict[str, Any]] = field(default_factory=list)
    skipped: int = 0  # lines that were not JSON (a write cut short by a crash or a power loss)

    def load(self) -> None:
        for seg in self.segments:
            lines = seg.read_bytes().split(b"\n")
            for n, line in enumerate(lines, 1):
                if not line.strip(b"\0 \t\r"):
                    continue
                try:
                    rec = orjson.loads(line)
                    if not isinstance(rec, dict) or not isinstance(rec.get("audit_id"), str):
                        raise ValueError("not an audit record")
                    seq_of(rec["audit_id"])  # raises ValueError on an id no journal writes
                except ValueError as exc:
                    self.skipped += 1
                    log.warning("audit journal %s line %d skipped (%s): %.80r", seg, n, exc, line)
                    continue
                self.records.append(rec)

    def done(self) -> None:
        for seg in self.segments:
            with contextlib.suppress(FileNotFoundError):
                seg.unlink()
        if self.lock_fd is not None:
            os.close(self.lock_fd)
            self.lock_fd = None


class Journal:
    def __init__(self, folder: Path, store_url: str, *, fsync: bool = False) -> None:
        self.root = folder / store_tag(store_url)
        self.store_url = store_url.split("@")[-1]
        self.fsync = fsync
        self.token = secrets.token_hex(6)  # new per process: a record's audit_id is unique for good
        self.slot: Path | None = None
        self._lock_fd: int | None = None
        self._fd = -1
        self._seq = 0
        self._segment_no = 0
        self._segment: Path | None = None
        self._written = 0  # records in the open segment
        self._broken = False  # the last write failed: start a new segment before the next one
        self._sealed: list[Path] = []
        self._own_leftovers: list[Path] = []

    # ---- opening ------------------------------------------------------------------------------------------
    def open(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "store").write_text(self.store_url + "\n")
        for n in range(MAX_SLOTS):
            slot = self.root / f"worker-{n}"
            slot.mkdir(exist_ok=True)
            fd = try_lock(slot / "lock")
            if fd is not None:
                self.slot, self._lock_fd = slot, fd
                break
        else:
            raise JournalBusy(f"all {MAX_SLOTS} worker slots of the audit journal {self.root} are in use")
        self._own_leftovers = _segments(self.slot)
        self._segment_no = max((_number(p) for p in self._own_leftovers), default=0)
        self._new_segment()

    def _new_segment(self) -> None:
        assert self.slot is not None
        if self._fd >= 0:
            os.close(self._fd)
        self._segment_no += 1
        self._segment = self.slot / f"{self._segment_no:010d}.jsonl"
        self._fd = os.open(self._segment, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        self._written = 0
        self._broken = False

    def leftovers(self) -> Iterator[Leftover]:
        """What dead processes left: this slot's old segments, then those of every slot nobody holds."""
        assert self.slot is not None
        own, self._own_leftovers = self._own_leftovers, []  # replayed once, at start
        if own:
            yield Leftover(self.slot, own, None)
        for slot in sorted(p for p in self.root.iterdir() if _SLOT.match(p.name) and p != self.slot):
            if not _segments(slot):
                continue
            fd = try_lock(slot / "lock")
            if fd is None:
                continue  # a live worker's
            yield Leftover(slot, _segments(slot), fd)

    # ---- the request path ---------------------------------------------------------------------------------
    def write(self, rec: dict[str, Any]) -> bool:
        """Give the record its audit_id and append it; False when the journal could not (a full disk)."""
        self._seq += 1
        rec["audit_id"] = f"{self.token}-{self._seq}"
        line = orjson.dumps(rec, option=orjson.OPT_APPEND_NEWLINE)
        try:
            if self._broken:
                self._new_segment()
            if os.write(self._fd, line) != len(line):
                raise OSError(errno.ENOSPC, "short write")
            if self.fsync:
                os.fdatasync(self._fd)
        except OSError:
            self._broken = True  # a partial line must not swallow the next record's
            raise
        self._written += 1
        return True

    # ---- the writer ---------------------------------------------------------------------------------------
    def seal(self) -> None:
        """Start a new segment if the open one holds records: every record queued so far is sealed."""
        if self._written or self._broken:
            assert self._segment is not None
            self._sealed.append(self._segment)
            self._new_segment()

    def shipped(self) -> None:
        """Every sealed record is in the store: delete the sealed segments."""
        for seg in self._sealed:
            with contextlib.suppress(FileNotFoundError):
                seg.unlink()
        self._sealed.clear()

    def close(self, *, clean: bool) -> None:
        """Let go of the slot; `clean`: every record is in the store, so no segment is kept."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if clean:
            self.shipped()
            if self._segment is not None:
                with contextlib.suppress(FileNotFoundError):
                    self._segment.unlink()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def open_journal(folder: Path | None, store_url: str, *, fsync: bool = False) -> Journal | None:
    """The journal of this process (a free worker slot under `folder`), or None when it is off."""
    if folder is None:
        return None
    journal = Journal(folder, store_url, fsync=fsync)
    journal.open()
    log.info("audit journal: %s (fsync %s)", journal.slot, "on" if fsync else "off")
    return journal


def seq_of(audit_id: str) -> tuple[str, int]:
    token, _, seq = audit_id.rpartition("-")
    return token, int(seq)


def _segments(slot: Path) -> list[Path]:
    return sorted(p for p in slot.iterdir() if _SEGMENT.match(p.name))


def _number(p: Path) -> int:
    m = _SEGMENT.match(p.name)
    return int(m.group(1)) if m else 0
