"""Queue views: filters (status, rule, validator, model, age) and counts, shared by the UI and the API.
They read the queue's indexes, so their cost does not grow with the history."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from llmvet.records import ReviewItem
from llmvet.review.queue import OUTCOMES, ReviewQueue

DECIDED = OUTCOMES
HISTORY_SCAN = 2000  # decided items a filtered history search reads at most (newest first)
HISTORY_PAGE = 500


@dataclass(slots=True)
class Filters:
    status: str = "pending"  # pending | decided | all | one outcome
    rule: str = ""
    validator: str = ""
    model: str = ""
    min_age: float = 0.0  # minutes: only items at least this old
    max_age: float = 0.0  # minutes: only items at most this old (0 = no limit)

    @classmethod
    def from_query(cls, q: Any) -> Filters:
        def num(name: str) -> float:
            try:
                return max(0.0, float(q.get(name) or 0))
            except ValueError:
                return 0.0

        status = q.get("status") or "pending"
        if status not in ("pending", "decided", "all", *DECIDED):
            status = "pending"
        return cls(
            status, q.get("rule") or "", q.get("validator") or "", q.get("model") or "", num("min_age"), num("max_age")
        )

    def match(self, item: ReviewItem, now: float) -> bool:
        st = item["status"]
        if self.status == "decided" and st == "pending":
            return False
        if self.status not in ("decided", "all") and st != self.status:
            return False
        if self.rule and item["rule"] != self.rule:
            return False
        if self.validator and self.validator not in validators_of(item):
            return False
        if self.model and item["model"] != self.model:
            return False
        age = (now - item["created"]) / 60
        if self.min_age and age < self.min_age:
            return False
        return not (self.max_age and age > self.max_age)

    def narrows(self) -> bool:
        """Filters beyond the status."""
        return bool(self.rule or self.validator or self.model or self.min_age or self.max_age)

    def query(self, **override: Any) -> dict[str, Any]:
        d = {
            "status": self.status,
            "rule": self.rule,
            "validator": self.validator,
            "model": self.model,
            "min_age": self.min_age or "",
            "max_age": self.max_age or "",
        }
        d.update(override)
        return {k: v for k, v in d.items() if v not in ("", None)}


def validators_of(item: ReviewItem) -> list[str]:
    return item.get("validator_names") or sorted({f["validator"] for f in item.get("findings", [])})


@dataclass(slots=True)
class View:
    """One page of the queue or the history, with what the filters and counts need."""

    items: list[ReviewItem]  # the matching items, at most `limit`
    total: int  # how many match (see `view` for the history with filters)
    counts: dict[str, Any]
    options: dict[str, list[str]]  # values the rule, validator and model filters offer


async def view(
    queue: ReviewQueue, f: Filters, limit: int, refresh: Callable[[ReviewItem], Awaitable[ReviewItem]]
) -> View:
    """Pending items oldest first (closest to their timeout), decided ones newest first.

    Reads the pending items and one page of the history, never the whole history: with filters
    beyond the status, the history's matches are sought among its newest HISTORY_SCAN items only
    (and `total` counts those). `refresh` applies a deferred item's timeout before it is shown."""
    now = time.time()
    pending = [i for i in [await refresh(i) for i in await queue.pending()] if i["status"] == "pending"]
    shown: list[ReviewItem] = []
    total = 0
    if f.status in ("pending", "all"):
        shown = [i for i in pending if f.match(i, now)]
        total = len(shown)
    if f.status != "pending":
        decided, matched = await _history(queue, f, limit, now)
        shown, total = shown + decided, total + matched
    if f.status == "all":
        shown.sort(key=lambda i: (i.get("decision") or {}).get("at", i["created"]), reverse=True)
    counts = _counts(pending, await queue.counts())
    return View(shown[:limit], total, counts, _options(pending + shown))


async def _history(queue: ReviewQueue, f: Filters, limit: int, now: float) -> tuple[list[ReviewItem], int]:
    status = f.status if f.status in DECIDED else "decided"
    if not f.narrows():  # one page of the index, and its size
        page, _ = await queue.history(status, 0, limit)
        counts = await queue.counts()
        return page, sum(n for s, n in counts.items() if s in DECIDED and status in ("decided", s))
    found: list[ReviewItem] = []
    scanned = 0
    while scanned < HISTORY_SCAN:
        page, covered = await queue.history(status, scanned, HISTORY_PAGE)
        found += [i for i in page if f.match(i, now)]
        scanned += covered
        if covered < HISTORY_PAGE:
            break
    return found[:limit], len(found)


def _counts(pending: list[ReviewItem], per_status: dict[str, int]) -> dict[str, Any]:
    """Items per status (from the indexes), and pending items per rule, validator and model."""
    return {
        "status": {k: v for k, v in {**per_status, "pending": len(pending)}.items() if v},
        "rule": dict(Counter(i["rule"] for i in pending)),
        "validator": dict(Counter(v for i in pending for v in validators_of(i))),
        "model": dict(Counter(i["model"] for i in pending)),
    }


def _options(items: list[ReviewItem]) -> dict[str, list[str]]:
    return {
        "rule": sorted({i["rule"] for i in items}),
        "validator": sorted({v for i in items for v in validators_of(i)}),
        "model": sorted({i["model"] or "" for i in items}),
    }


def summary(item: ReviewItem) -> dict[str, Any]:
    """An item without its bulky parts, for lists."""
    final = item.get("decision")
    last_user = next((m["content"] for m in reversed(item["conversation"]) if m["role"] == "user"), "")
    return {
        "id": item["id"],
        "status": item["status"],
        "mode": item["mode"],
        "created": item["created"],
        "deadline": item["deadline"],
        "request_id": item["request_id"],
        "policy": item["policy"],
        "rule": item["rule"],
        "model": item["model"],
        "route": item["route"],
        "stream": item["stream"],
        "validators": validators_of(item),
        "findings": len(item["findings"]),
        "summary": item["summary"],
        "question": last_user[:200],
        "lease": item.get("lease"),
        "client_gone": item.get("client_gone"),
        "decision": {k: v for k, v in final.items() if k != "text"} if final else None,
    }
