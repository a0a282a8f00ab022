"""Whether a store can write: what readiness needs to know besides "it answers".

A store that answers reads but cannot write (a full disk, a read-only file, Redis out of memory or
refusing writes) loses audit records, so it is not ready. Each backend tracks its real writes here
and adds a small probe write, so /readyz notices both before and during traffic.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

PROBE_BYTES = 16 * 1024  # a write that needs new pages or memory, not one that fits in a spare slot
RECENT = 30.0  # seconds a failed real write keeps the store not ready, unless a later write succeeds


class WriteHealth:
    def __init__(self) -> None:
        self._failed_at: float | None = None
        self._ok_at: float | None = None

    @contextmanager
    def track(self) -> Iterator[None]:
        """Wrap a real write: its outcome is remembered."""
        try:
            yield
        except Exception:
            self._failed_at = time.monotonic()
            raise
        self._ok_at = time.monotonic()

    def recently_failed(self) -> bool:
        """The latest real write failed, within the last RECENT seconds."""
        if self._failed_at is None or (self._ok_at is not None and self._ok_at > self._failed_at):
            return False
        return time.monotonic() - self._failed_at < RECENT
