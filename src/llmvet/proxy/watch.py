"""Reload the policy when its file (or the shadow candidate's) changes: opt-in, by polling.

Every `LLMVET_POLICY_WATCH` seconds the files' size and mtime are compared with the last look; when
either moved, the file is read once they have stayed the same for one more interval (so a file still
being written is not loaded half-way), and the content's hash decides (a `touch` or a rewrite of the
same text is no change).
A change goes through the same reload as SIGHUP: checked first, refused if bad, logged, counted.
Polling needs no inotify and works on the bind mounts and ConfigMap symlink swaps containers use.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from pathlib import Path

from llmvet.proxy.admin import PolicyReloader

log = logging.getLogger("llmvet.proxy.watch")

Stamp = tuple[int, int] | None  # (size, mtime_ns); None when the file cannot be read


def _stamp(path: Path) -> Stamp:
    try:
        st = path.stat()  # follows symlinks: a swapped ConfigMap link changes the target's stamp
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


class PolicyWatch:
    def __init__(self, reloader: PolicyReloader) -> None:
        self.reloader = reloader
        self.interval = reloader.rt.settings.policy_watch
        self._seen: dict[Path, tuple[Stamp, str | None]] = {}  # stamp at the last look, digest last read
        self._moving: set[Path] = set()  # files whose stamp changed at the last look
        self._task: asyncio.Task[None] | None = None
        self.reloads = 0  # reloads this watch started (refused ones included)

    def _look(self) -> bool:
        """Record the files' state; True when a file's content changed and has since stopped moving."""
        changed = False
        for path in self.reloader.paths():
            stamp = _stamp(path)
            before = self._seen.get(path)
            if before is None:
                self._seen[path] = (stamp, _digest(path))
                continue
            if before[0] != stamp:  # still moving (or just moved): look again next time
                self._seen[path] = (stamp, before[1])
                self._moving.add(path)
                continue
            if path in self._moving:  # settled since the last look: now the content decides
                self._moving.discard(path)
                digest = _digest(path)
                changed |= before[1] != digest
                self._seen[path] = (stamp, digest)
        return changed

    async def _run(self) -> None:
        await asyncio.to_thread(self._look)  # the files as they are at start are not a change
        while True:
            await asyncio.sleep(self.interval)
            try:
                if await asyncio.to_thread(self._look):
                    log.info("policy file changed: reloading")
                    self.reloads += 1
                    await self.reloader.reload()
            except Exception:  # the next look tries again
                log.exception("policy watch failed")

    def start(self) -> None:
        if self.interval > 0:
            self._task = asyncio.create_task(self._run(), name="llmvet-policy-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
