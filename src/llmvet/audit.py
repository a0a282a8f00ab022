"""The audit log's one writer: records of vetted responses in batches off the request path, and
records that must be durable at once (review decisions, allowlist and account changes)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from llmvet.records import AuditRecord
from llmvet.store import keys
from llmvet.store.base import Store

log = logging.getLogger("llmvet.audit")


class AuditLog:
    def __init__(self, store: Store, *, batch: int = 256, interval: float = 0.2) -> None:
        self.store = store
        self._batch = batch
        self._interval = interval
        self._pending: list[AuditRecord] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="llmvet-audit-writer")

    def record(self, rec: AuditRecord) -> None:
        """Queue a record (never blocks the request); the writer flushes within `interval` seconds."""
        self._pending.append(rec)
        if len(self._pending) >= self._batch:
            self._wake.set()

    async def flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self._batch], self._pending[self._batch :]
            try:
                await write_now(self.store, batch)
            except Exception:
                # Keep the records for the next attempt rather than lose them.
                self._pending[:0] = batch
                raise

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("audit write failed; %d records kept for retry", len(self._pending))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        try:
            await self.flush()
        except Exception:
            log.exception("audit flush at shutdown failed; %d records lost", len(self._pending))


async def write_now(store: Store, records: Sequence[AuditRecord]) -> None:
    """Append records to the audit stream now (the caller handles a store failure)."""
    await store.append(keys.AUDIT, list(records))
