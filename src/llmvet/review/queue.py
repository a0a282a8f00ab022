"""The escalation queue, kept in the store so it survives restarts and is shared by replicas.

Layout (one schema for SQLite and Redis; the names live in llmvet.store.keys):
  ns "review_item"   key = review id   -> the item (request, answer, findings, status)
  ns "review_final"  key = review id   -> the outcome; written with store.add, so exactly one outcome wins
                                          (a reviewer's decision or the held request's timeout)
  ns "review_lease"  key = review id   -> {"reviewer", "at"} with a TTL: who is working the item right now
  ns "review_gone"   key = review id   -> time the held client disconnected (informational)

Pending items never expire; decided ones are kept `keep_seconds` (the audit log keeps the decision for good).
Sorted indexes (review/indexing.py) list pending and decided ids without reading the whole history.

A held request learns of the outcome at once: within one process through an asyncio event, from
another replica through the store's channel `review:decisions` (Redis pub/sub), which the queue
listens to and turns into the same event. In case a message is missed (a dropped subscription), it
also reads "review_final" every `poll_interval` seconds (a low-rate fallback).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from typing import Any

from llmvet.audit import RepeatedErrors
from llmvet.records import ReviewFinal, ReviewItem, ReviewOutcome
from llmvet.review.indexing import OUTCOMES, QueueIndex
from llmvet.store import keys
from llmvet.store.base import Store

log = logging.getLogger("llmvet.review.queue")
ITEMS, FINALS, LEASES, GONE = keys.REVIEW_ITEMS, keys.REVIEW_FINALS, keys.REVIEW_LEASES, keys.REVIEW_GONE
__all__ = ["OUTCOMES", "QueueError", "ReviewQueue", "new_review_id"]
HISTORY_EXPORT_PAGE = 1000


class QueueError(Exception):
    """A reviewer action that cannot happen now (HTTP status + message for the API and the UI)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def new_review_id() -> str:
    # Milliseconds first, so ids sort by creation; 96 random bits make ids unguessable capabilities.
    return f"rev_{int(time.time() * 1000):011x}{secrets.token_hex(12)}"


class ReviewQueue:
    def __init__(
        self,
        store: Store,
        *,
        lease_seconds: float = 300.0,
        poll_interval: float = 2.0,
        keep_seconds: float | None = 30 * 86400,
        wake_ups: bool = True,
    ) -> None:
        self.store = store
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.keep_seconds = keep_seconds
        self.wake_ups = wake_ups  # off: no subscription, no announcements (a Redis without pub/sub)
        self.index = QueueIndex(store, keep_seconds)
        self._local: dict[str, asyncio.Event] = {}  # wake-ups for requests held in this process
        self.released = False  # the replica is shutting down: held requests stop waiting
        self._listener: asyncio.Task[None] | None = None

    # ---- life ---------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Listen for decisions made on other replicas; index a queue of the older layout (once)."""
        if self.wake_ups:
            self._listener = asyncio.create_task(self._listen(), name="llmvet-review-wake-ups")
        try:
            await self.index.upgrade()
        except Exception:  # the queue still works; its older items stay unlisted until a later start
            log.exception("could not index the review items of the older layout")

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener

    async def _listen(self) -> None:
        errors = RepeatedErrors(log, "listening for review decisions")
        while True:
            try:
                async for review_id in self.store.subscribe(keys.REVIEW_DECISIONS):
                    errors.recovered()
                    if review_id is None:  # (re)subscribed: a decision may have been missed, look again
                        self._wake(list(self._local))
                    else:
                        self._wake([review_id])
            except Exception as exc:  # held requests still poll, at poll_interval
                errors.failed(exc, "held requests fall back to polling")
                await asyncio.sleep(1.0)

    def _wake(self, review_ids: list[str]) -> None:
        for review_id in review_ids:
            event = self._local.get(review_id)
            if event is not None:
                event.set()

    # ---- items ------------------------------------------------------------------------------------
    async def enqueue(self, item: ReviewItem) -> ReviewItem:
        item.setdefault("id", new_review_id())
        item.setdefault("created", time.time())
        item["status"] = "pending"
        await self.store.set(ITEMS, item["id"], item)
        await self.index.added(item["id"], item["created"])
        return item

    async def get(self, review_id: str) -> ReviewItem | None:
        if not review_id.startswith("rev_"):
            return None
        item = await self.store.get(ITEMS, review_id)
        if item is None:
            return None
        final = await self.store.get(FINALS, review_id)
        item = _merge(item, final)
        item["client_gone"] = await self.store.get(GONE, review_id)
        return item

    async def client_gone(self, review_id: str) -> None:
        """The held client disconnected: the item stays decidable, the UI says nobody waits any more."""
        await self.store.set(GONE, review_id, time.time(), ttl=self.keep_seconds)

    async def pending(self) -> list[ReviewItem]:
        """Every pending item, oldest first (closest to its timeout)."""
        items = await self._load(await self.index.pending_ids())
        for item in items:
            if item["status"] != "pending":  # decided, but its writer stopped before moving it: move it now
                await self.index.decided(item["id"], item["decision"])
        return [i for i in items if i["status"] == "pending"]

    async def history(self, status: str = "decided", offset: int = 0, limit: int = 100) -> tuple[list[ReviewItem], int]:
        """Decided items, newest decision first (`status`: "decided" or one outcome), and how many ids
        the page covered (items whose keep time passed are left out, so it may be more)."""
        ids = await self.index.decided_ids(status, offset, limit)
        return await self._load(ids), len(ids)

    async def items(self) -> list[ReviewItem]:
        """Every item, newest first. Reads the whole history (page by page, through the index): for
        exports and tools, never for serving a page."""
        out = await self.pending()
        offset = 0
        while True:
            page, covered = await self.history("decided", offset, HISTORY_EXPORT_PAGE)
            out += page
            offset += covered
            if covered < HISTORY_EXPORT_PAGE:
                break
        return sorted(out, key=lambda i: i["id"], reverse=True)  # ids start with their creation time

    async def decided_since(self, since: float, limit: int = 1000) -> list[ReviewItem]:
        """Items decided at or after unix time `since`, oldest decision first."""
        return await self._load([rid for rid, _ in await self.index.decided_since(since, limit)])

    async def counts(self) -> dict[str, int]:
        """Items per status, from the indexes."""
        return await self.index.counts()

    async def _load(self, ids: list[str]) -> list[ReviewItem]:
        """The items of `ids` in that order, with outcome, lease and disconnect; ids of items that are
        gone (their keep time passed) leave the indexes."""
        items = await self.store.get_many(ITEMS, ids)
        finals = await self.store.get_many(FINALS, ids)
        leases = await self.store.get_many(LEASES, ids)
        gone = await self.store.get_many(GONE, ids)
        out, missing = [], []
        for i in ids:
            if i not in items:
                missing.append(i)
                continue
            item = _merge(items[i], finals.get(i))
            item["lease"] = leases.get(i)
            item["client_gone"] = gone.get(i)
            out.append(item)
        if missing:
            await self.index.forget(missing)
        return out

    async def lease(self, review_id: str) -> dict[str, Any] | None:
        return await self.store.get(LEASES, review_id)

    # ---- leases ---------------------------------------------------------------------------------------
    async def claim(self, review_id: str, reviewer: str) -> ReviewItem:
        """Take (or renew) the lease on an item; QueueError 409 if someone else holds it."""
        item = await self._pending(review_id)
        lease = {"reviewer": reviewer, "at": time.time(), "until": time.time() + self.lease_seconds}
        if not await self.store.add(LEASES, review_id, lease, ttl=self.lease_seconds):
            current = await self.store.get(LEASES, review_id)
            if current is not None and current.get("reviewer") != reviewer:
                raise QueueError(409, f"{current.get('reviewer')} is working on this item")
            await self.store.set(LEASES, review_id, lease, ttl=self.lease_seconds)
        item["lease"] = lease
        return item

    async def release(self, review_id: str, reviewer: str) -> None:
        current = await self.store.get(LEASES, review_id)
        if current is not None and current.get("reviewer") == reviewer:
            await self.store.delete(LEASES, review_id)

    # ---- outcomes ---------------------------------------------------------------------------------------
    async def decide(
        self, review_id: str, reviewer: str, outcome: ReviewOutcome, *, reason: str = "", text: str | None = None
    ) -> ReviewItem:
        """Record a reviewer's decision; only the holder of the lease (or anyone, when nobody holds it)."""
        if outcome not in ("approved", "edited", "rejected"):
            raise QueueError(400, f"unknown outcome {outcome!r}")
        if outcome == "rejected" and not reason.strip():
            raise QueueError(400, "a rejection needs a reason (the client sees it)")
        if outcome == "edited" and not (text or "").strip():
            raise QueueError(400, "an edited answer cannot be empty")
        await self._pending(review_id)
        lease = await self.store.get(LEASES, review_id)
        if lease is not None and lease.get("reviewer") != reviewer:
            raise QueueError(409, f"{lease.get('reviewer')} is working on this item")
        final = ReviewFinal(outcome=outcome, reviewer=reviewer, reason=reason.strip(), at=time.time())
        if outcome == "edited" and text is not None:
            final["text"] = text
        item = await self._finalize(review_id, final)
        if item is None:
            raise QueueError(409, "this item was decided a moment ago by someone else")
        await self.store.delete(LEASES, review_id)
        return item

    async def expire(self, review_id: str, action: str) -> ReviewItem | None:
        """The held request's timeout: record it unless a decision won the race (then None)."""
        return await self._finalize(
            review_id,
            ReviewFinal(
                outcome="timeout", action=action, reviewer=None, reason="no reviewer decided in time", at=time.time()
            ),
        )

    async def _finalize(self, review_id: str, final: ReviewFinal) -> ReviewItem | None:
        if not await self.store.add(FINALS, review_id, final, ttl=self.keep_seconds):
            return None
        # The outcome stands: the held request needs nothing else, so it hears of it first.
        self._wake([review_id])  # held in this process: at once
        await self._announce(review_id)  # held on another replica
        item = await self.store.get(ITEMS, review_id)
        if item is None:
            return None
        item = _merge(item, final)
        item.pop("client_gone", None)
        await self.store.set(ITEMS, review_id, item, ttl=self.keep_seconds)  # the item carries its outcome (history)
        try:
            await self.index.decided(review_id, final)
        except Exception:  # readers repair the index
            log.exception("could not index the outcome of %s", review_id)
        return item

    async def _announce(self, review_id: str) -> None:
        if not self.wake_ups:
            return
        try:
            await self.store.publish(keys.REVIEW_DECISIONS, review_id)
        except Exception:  # the waiter's fallback poll finds the outcome
            log.exception("could not announce the outcome of %s", review_id)

    async def _pending(self, review_id: str) -> ReviewItem:
        item = await self.get(review_id)
        if item is None:
            raise QueueError(404, f"no review item {review_id!r}")
        if item["status"] != "pending":
            raise QueueError(409, f"this item is already {item['status']}")
        return item

    # ---- waiting (held requests) ------------------------------------------------------------------------
    async def wait(self, review_id: str, timeout: float) -> ReviewFinal | None:
        """The outcome, once there is one, or None after `timeout` seconds or when the replica
        releases its held requests (`released` tells which)."""
        event = self._local.setdefault(review_id, asyncio.Event())
        deadline = time.monotonic() + timeout
        errors = RepeatedErrors(log, f"reading the outcome of {review_id}")
        try:
            while True:
                event.clear()  # cleared before the read: a wake-up during the read is not lost
                try:
                    final = await self.store.get(FINALS, review_id)
                    errors.recovered()
                except Exception as exc:  # a store hiccup (e.g. Redis failover) must not drop the held request
                    errors.failed(exc, "retrying")
                    final = None
                if final is not None:
                    return final
                left = deadline - time.monotonic()
                if left <= 0 or self.released:
                    return None
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(event.wait(), min(self.poll_interval, left))
        finally:
            self._local.pop(review_id, None)

    def release_waiters(self) -> None:
        """Shutting down: every request held in this process stops waiting."""
        self.released = True
        self._wake(list(self._local))

    async def hand_over(self, review_id: str) -> ReviewFinal | None:
        """A held request is answered "pending" at shutdown: its item becomes a deferred one (nobody
        waits; the rule's timeout applies when it is next read after its deadline). Returns the outcome
        instead when there already is one."""
        item = await self.store.get(ITEMS, review_id)
        final = await self.store.get(FINALS, review_id)
        if item is None or final is not None:
            return final
        item["mode"] = "defer"
        item["handed_over"] = time.time()
        await self.store.set(ITEMS, review_id, item)
        final = await self.store.get(FINALS, review_id)
        if final is not None:  # decided meanwhile: keep the outcome's copy (and its keep time), not ours
            await self.store.set(ITEMS, review_id, _merge(item, final), ttl=self.keep_seconds)
        return final


def _merge(item: ReviewItem, final: ReviewFinal | None) -> ReviewItem:
    if final is None:
        return item
    item = ReviewItem(**item)  # a copy
    item["decision"] = final
    item["status"] = final["outcome"]
    return item
