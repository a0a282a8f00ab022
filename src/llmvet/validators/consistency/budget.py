"""Per-key daily token budget for re-asks, kept in the store so every replica shares it.

Tokens are reserved (atomic `incr`) before the re-asks from an estimate, then settled to what the
upstream reported, so concurrent checks cannot overspend by more than one estimate's error.
"""

from __future__ import annotations

import datetime as dt

from llmvet.store import keys
from llmvet.store.base import Store

NAMESPACE = keys.BUDGET  # the report and the metrics read the same counters through llmvet.store.keys
TTL_SECONDS = keys.BUDGET_TTL_SECONDS


def budget_key(key_hash: str | None, now: dt.datetime | None = None) -> str:
    """Today's (UTC) counter of one API key's re-ask tokens."""
    return keys.budget_key(key_hash, keys.budget_day(now.timestamp() if now else None))


async def reserve(store: Store, key: str, tokens: int, limit: int | None) -> tuple[bool, float]:
    """Add `tokens` to today's counter; undo and return (False, used) when that would pass `limit`."""
    used = await store.incr(NAMESPACE, key, tokens, ttl=TTL_SECONDS)
    if limit is not None and used > limit:
        await store.incr(NAMESPACE, key, -tokens, ttl=TTL_SECONDS)
        return False, used - tokens
    return True, used


async def settle(store: Store, key: str, delta: int) -> float:
    """Correct a reservation by `delta` tokens (actual - reserved; negative refunds)."""
    return await store.incr(NAMESPACE, key, delta, ttl=TTL_SECONDS)
