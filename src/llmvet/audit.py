"""The audit log's one writer: records of vetted responses in batches off the request path, and
records that must be durable at once (review decisions, allowlist and account changes)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence

from llmvet.journal import Journal, Leftover, seq_of
from llmvet.records import AuditRecord
from llmvet.store import keys
from llmvet.store.base import Store

log = logging.getLogger("llmvet.audit")
_CLOSE_WAIT = 5.0  # seconds close() lets the writer finish the batch in flight
# Seconds between looks for journal slots a dead process left with nobody restarting on them (a replica
# scaled down after a crash, a worker not replaced): live processes replay them too, not only a new one.
ADOPT_EVERY = 30.0


class RepeatedErrors:
    """Log a run of identical failures once with its traceback, then one line per `every` seconds.

    A background task retrying against a full disk would otherwise print the same traceback several
    times a second. A different error starts a new run; `recovered()` says how long the run lasted.
    """

    def __init__(self, logger: logging.Logger, what: str, every: float = 60.0) -> None:
        self._log = logger
        self._what = what
        self._every = every
        self._signature: tuple[str, str] | None = None
        self._since = 0.0
        self._last_logged = 0.0
        self._count = 0

    @property
    def failing(self) -> int:
        """Failures in the current run (0 when the last attempt worked)."""
        return self._count

    def failed(self, exc: BaseException, detail: str) -> None:
        now = time.monotonic()
        signature = (type(exc).__name__, str(exc))
        self._count += 1
        if signature != self._signature:
            self._signature, self._since, self._last_logged = signature, now, now
            self._log.error("%s failed: %s", self._what, detail, exc_info=exc)
        elif now - self._last_logged >= self._every:
            self._last_logged = now
            self._log.error(
                "%s still failing (%d attempts in %.0fs): %s: %s; %s",
                self._what,
                self._count,
                now - self._since,
                *signature,
                detail,
            )

    def backoff(self, base: float, cap: float = 5.0) -> float:
        """Seconds before the next attempt: `base` while it works, doubling per failure up to `cap`."""
        return min(base * 2 ** min(self._count, 8), max(base, cap))

    def recovered(self) -> None:
        if self._count:
            self._log.warning(
                "%s works again after %d failed attempts in %.0fs",
                self._what,
                self._count,
                time.monotonic() - self._since,
            )
        self._signature, self._count = None, 0


class AuditRetention:
    """Deletes audit records older than `keep_seconds` and beyond the newest `max_records`, every
    `every` seconds (both off by default: the audit log is kept for good unless a team says otherwise).
    Every replica runs it; trimming is idempotent, so replicas sharing a store do not conflict."""

    def __init__(
        self,
        store: Store,
        *,
        keep_seconds: float = 0,
        max_records: int = 0,
        every: float = 600.0,
        on_removed: Callable[[int], None] | None = None,
    ) -> None:
        self.store = store
        self.on_removed = on_removed  # told how many records each run deleted (the metric)
        self.keep_seconds = keep_seconds
        self.max_records = max_records
        self.every = every
        self.removed = 0  # records this process deleted (a running total, for logs and tests)
        self._errors = RepeatedErrors(log, "audit retention")

    @property
    def enabled(self) -> bool:
        return self.keep_seconds > 0 or self.max_records > 0

    async def run_once(self) -> int:
        before = time.time() - self.keep_seconds if self.keep_seconds > 0 else None
        removed = await self.store.trim(keys.AUDIT, before=before, keep_last=self.max_records or None)
        self.removed += removed
        if removed:
            log.info("audit retention deleted %d record(s)", removed)
            if self.on_removed is not None:
                self.on_removed(removed)
        return removed

    async def run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception as exc:
                self._errors.failed(exc, "will retry")
            else:
                self._errors.recovered()
            await asyncio.sleep(self.every)


class AuditLog:
    def __init__(
        self,
        store: Store,
        *,
        batch: int = 256,
        interval: float = 0.2,
        retention: AuditRetention | None = None,
        journal: Journal | None = None,
        adopt_every: float = ADOPT_EVERY,
    ) -> None:
        self.store = store
        self._adopt_every = adopt_every
        self.journal = journal  # opened by the caller; None: records wait in memory only
        self.replayed = 0  # records of dead processes' journals this process wrote to the store
        self.retention = retention
        self._retention_task: asyncio.Task[None] | None = None
        self._batch = batch
        self._interval = interval
        self._pending: list[AuditRecord] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._errors = RepeatedErrors(log, "audit write")
        self._journal_errors = RepeatedErrors(log, "audit journal write")

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="llmvet-audit-writer")
        if self.retention is not None and self.retention.enabled:
            self._retention_task = asyncio.create_task(self.retention.run(), name="llmvet-audit-retention")

    def record(self, rec: AuditRecord) -> None:
        """Journal the record (one write to the page cache), then queue it; the writer flushes within
        `interval` seconds. Never raises: a journal that cannot write (a full disk) is logged."""
        if self.journal is not None:
            try:
                self.journal.write(rec)  # type: ignore[arg-type]  # a TypedDict is a dict at run time
            except OSError as exc:
                self._journal_errors.failed(exc, "records kept in memory only until it works again")
            else:
                if self._journal_errors.failing:
                    self._journal_errors.recovered()
        self._pending.append(rec)
        if len(self._pending) >= self._batch:
            self._wake.set()

    async def record_now(self, rec: AuditRecord) -> None:
        """Write a record before going on (a held request's, before it waits). When the store cannot
        write, the record is queued like any other and retried, and the caller goes on."""
        try:
            await write_now(self.store, [rec])
        except Exception as exc:
            log.warning("audit record written later (the store failed: %s)", exc)
            self.record(rec)

    async def flush(self) -> None:
        """Write every pending record, including those queued while writing."""
        while self._pending:
            await self._write_due()

    async def _write_due(self) -> None:
        """Write the records pending now, in batches. Records queued meanwhile wait for the next round:
        chasing them turned a busy proxy's batches into about one store write per response."""
        if self.journal is not None:
            self.journal.seal()  # the records due now are all in sealed segments
        due = len(self._pending)
        while due > 0:
            size = min(due, self._batch)
            batch, self._pending = self._pending[:size], self._pending[size:]
            try:
                await write_now(self.store, batch, self._mark(batch))
            except Exception:
                # Keep the records for the next attempt rather than lose them.
                self._pending[:0] = batch
                raise
            due -= size
        if self.journal is not None:
            self.journal.shipped()

    def _mark(self, batch: list[AuditRecord]) -> tuple[str, str, int] | None:
        """The journal's high-water mark after this batch, written with it (a replay skips up to it)."""
        if self.journal is None or "audit_id" not in batch[-1]:
            return None
        token, seq = seq_of(batch[-1]["audit_id"])
        return (keys.JOURNAL, token, seq) if token == self.journal.token else None

    async def _replay_leftovers(self) -> None:
        """Records dead processes journaled: into the store exactly once, then their segments go."""
        assert self.journal is not None
        for left in self.journal.leftovers():
            left.load()
            errors = RepeatedErrors(log, f"audit journal replay of {left.slot}")
            while True:
                try:
                    written, present = await replay(self.store, left, self._batch)
                    break
                except Exception as exc:
                    errors.failed(exc, "will retry")
                    await asyncio.sleep(errors.backoff(self._interval))
            errors.recovered()
            self.replayed += written
            log.warning(
                "audit journal %s replayed: %d record(s) written, %d already in the store, %d line(s) skipped",
                left.slot,
                written,
                present,
                left.skipped,
            )

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        if self.journal is not None:
            await self._replay_leftovers()
        adopt_at = loop.time() + self._adopt_every
        while not self._closing:
            if self.journal is not None and loop.time() >= adopt_at:
                await self._replay_leftovers()
                adopt_at = loop.time() + self._adopt_every
            # While the store fails (e.g. a full disk), retry less and less often, up to every 5 s.
            wait = self._errors.backoff(self._interval)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
            self._wake.clear()
            if self._closing:
                return
            try:
                await self._write_due()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._errors.failed(exc, f"{len(self._pending)} records kept for retry")
            else:
                self._errors.recovered()

    async def close(self) -> None:
        # The writer finishes the batch it is writing (cancelled mid-write, that batch was lost), then
        # stops; a write hung on a dead store is cancelled after a few seconds.
        self._closing = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, _CLOSE_WAIT)
        if self._retention_task is not None:
            self._retention_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retention_task
        try:
            await self.flush()
        except Exception:
            kept = "kept in the journal for the next start" if self.journal else "lost"
            log.exception("audit flush at shutdown failed; %d records %s", len(self._pending), kept)
        if self.journal is not None:
            clean = not self._pending
            if clean:  # every record is in the store: the high-water mark is not needed any more
                with contextlib.suppress(Exception):
                    await self.store.delete(keys.JOURNAL, self.journal.token)
            self.journal.close(clean=clean)


async def write_now(store: Store, records: Sequence[AuditRecord], mark: tuple[str, str, int] | None = None) -> None:
    """Append records to the audit stream now (the caller handles a store failure)."""
    await store.append(keys.AUDIT, list(records), mark)


async def replay(store: Store, left: Leftover, batch: int) -> tuple[int, int]:
    """Write a leftover's records the store does not hold yet (by their journal's high-water mark, moved
    with every batch), delete its segments, then the marks. Returns (written, already present)."""
    by_token: dict[str, list[tuple[int, dict]]] = {}
    for rec in left.records:
        token, seq = seq_of(rec["audit_id"])
        by_token.setdefault(token, []).append((seq, rec))
    written = present = 0
    for token, recs in by_token.items():
        recs.sort(key=lambda r: r[0])
        high = await store.get(keys.JOURNAL, token) or 0
        todo = [(seq, rec) for seq, rec in recs if seq > high]
        present += len(recs) - len(todo)
        for i in range(0, len(todo), batch):
            chunk = todo[i : i + batch]
            await store.append(keys.AUDIT, [rec for _, rec in chunk], (keys.JOURNAL, token, chunk[-1][0]))
            written += len(chunk)
    left.done()  # segments first: a crash now leaves at most a mark nobody reads
    for token in by_token:
        await store.delete(keys.JOURNAL, token)
    return written, present
