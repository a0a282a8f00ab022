"""Queue views: filters (status, rule, validator, model, age) and counts, shared by the UI and the API."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from llmvet.records import ReviewItem

DECIDED = ("approved", "edited", "rejected", "timeout")


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


def apply(items: list[ReviewItem], f: Filters) -> list[ReviewItem]:
    """Matching items: pending ones oldest first (closest to their timeout), decided ones newest first."""
    now = time.time()
    chosen = [i for i in items if f.match(i, now)]
    if f.status == "pending":
        chosen.sort(key=lambda i: i["created"])
    else:
        chosen.sort(key=lambda i: (i.get("decision") or {}).get("at", i["created"]), reverse=True)
    return chosen


def counts(items: list[ReviewItem]) -> dict[str, Any]:
    """Counts of pending items per rule, validator and model, and of items per status."""
    pending = [i for i in items if i["status"] == "pending"]
    return {
        "status": dict(Counter(i["status"] for i in items)),
        "rule": dict(Counter(i["rule"] for i in pending)),
        "validator": dict(Counter(v for i in pending for v in validators_of(i))),
        "model": dict(Counter(i["model"] for i in pending)),
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
