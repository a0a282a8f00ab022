"""The review queue's sorted indexes: pending ids by creation time, decided ids by decision time (all
of them and per outcome), so listing and counting read only what they show, however long the history.

The index is kept beside the items, not in one transaction with them: a replica that dies between
the two writes leaves an index entry that says "pending" for a decided item (or names an item that
expired). Readers repair what they find (`ReviewQueue.pending`, `.history`), so it never lasts.
"""

from __future__ import annotations

import logging
import time

from llmvet.records import ReviewFinal, ReviewItem
from llmvet.store import keys
from llmvet.store.base import Store

log = logging.getLogger("llmvet.review.queue")
OUTCOMES = ("approved", "edited", "rejected", "timeout")
PRUNE_EVERY = 60.0  # seconds between removals of decided ids older than the history keeps
UPGRADE_BATCH = 500


class QueueIndex:
    def __init__(self, store: Store, keep_seconds: float | None) -> None:
        self.store = store
        self.keep_seconds = keep_seconds
        self._pruned_at = 0.0

    async def added(self, review_id: str, created: float) -> None:
        await self.store.index_put(keys.REVIEW_PENDING, {review_id: created})

    async def decided(self, review_id: str, final: ReviewFinal) -> None:
        """Move the id from pending to decided (and its outcome's index)."""
        at = final["at"]
        await self.store.index_put(keys.REVIEW_DECIDED, {review_id: at})
        await self.store.index_put(keys.review_outcome_index(final["outcome"]), {review_id: at})
        await self.store.index_drop(keys.REVIEW_PENDING, [review_id])
        await self._prune()

    async def forget(self, review_ids: list[str]) -> None:
        """Ids whose item is gone (the history's keep time passed): out of every index."""
        for index in (keys.REVIEW_PENDING, keys.REVIEW_DECIDED, *map(keys.review_outcome_index, OUTCOMES)):
            await self.store.index_drop(index, review_ids)

    async def _prune(self) -> None:
        now = time.time()
        if self.keep_seconds is None or now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        for index in (keys.REVIEW_DECIDED, *map(keys.review_outcome_index, OUTCOMES)):
            await self.store.index_drop_below(index, now - self.keep_seconds)

    async def pending_ids(self) -> list[str]:
        return [rid for rid, _ in await self.store.index_range(keys.REVIEW_PENDING)]

    async def decided_ids(self, status: str, offset: int, limit: int) -> list[str]:
        """Newest decision first; `status` is "decided" (every outcome) or one outcome."""
        index = keys.REVIEW_DECIDED if status == "decided" else keys.review_outcome_index(status)
        rows = await self.store.index_range(index, descending=True, offset=offset, limit=limit)
        return [rid for rid, _ in rows]

    async def decided_since(self, since: float, limit: int) -> list[tuple[str, float]]:
        """(id, decision time) of decisions at or after `since`, oldest first."""
        return await self.store.index_range(keys.REVIEW_DECIDED, lo=since, limit=limit)

    async def counts(self) -> dict[str, int]:
        """Items per status, read from the indexes' sizes (no item is read)."""
        out = {"pending": await self.store.index_count(keys.REVIEW_PENDING)}
        for outcome in OUTCOMES:
            out[outcome] = await self.store.index_count(keys.review_outcome_index(outcome))
        return {k: v for k, v in out.items() if v}

    # ---- the older layout ----------------------------------------------------------------------------------
    async def upgrade(self) -> int:
        """Index the items of a queue written before the indexes existed (once per store; idempotent, so
        replicas starting together may all run it). Returns how many items it indexed."""
        if await self.store.get(keys.REVIEW_META, keys.REVIEW_LAYOUT_KEY) == keys.REVIEW_LAYOUT:
            return 0
        return await self.reindex()

    async def reindex(self) -> int:
        """Index every item in the store (walks them all: for upgrades and repairs, not for serving)."""
        ids = await self.store.keys(keys.REVIEW_ITEMS)
        for i in range(0, len(ids), UPGRADE_BATCH):
            chunk = ids[i : i + UPGRADE_BATCH]
            items = await self.store.get_many(keys.REVIEW_ITEMS, chunk)
            finals = await self.store.get_many(keys.REVIEW_FINALS, chunk)
            await self._index_batch(items, finals)
        await self.store.set(keys.REVIEW_META, keys.REVIEW_LAYOUT_KEY, keys.REVIEW_LAYOUT)
        if ids:
            log.info("review queue: indexed %d item(s) of the older layout", len(ids))
        return len(ids)

    async def _index_batch(self, items: dict[str, ReviewItem], finals: dict[str, ReviewFinal]) -> None:
        pending = {rid: float(item.get("created", 0.0)) for rid, item in items.items() if rid not in finals}
        decided = {rid: final["at"] for rid, final in finals.items() if rid in items}
        await self.store.index_put(keys.REVIEW_PENDING, pending)
        await self.store.index_put(keys.REVIEW_DECIDED, decided)
        for outcome in OUTCOMES:
            chosen = {rid: at for rid, at in decided.items() if finals[rid]["outcome"] == outcome}
            await self.store.index_put(keys.review_outcome_index(outcome), chosen)
        await self.store.index_drop(keys.REVIEW_PENDING, list(decided))
