"""The review queue's behaviour shared by the JSON API, the web UI and the escalation hook.

It owns the queue, the reviewer accounts and the webhook once the app has started, records every
outcome in the audit log, and answers other extensions through the `ReviewAccess` contract.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

from starlette.requests import Request

from llmvet import audit
from llmvet.extensions import Host
from llmvet.records import AuditRecord, ReviewItem, ReviewOutcome
from llmvet.review import allowlist
from llmvet.review.auth import Accounts
from llmvet.review.queue import QueueError, ReviewQueue
from llmvet.review.settings import ReviewSettings
from llmvet.review.web import reviewer_from
from llmvet.review.webhook import Webhook
from llmvet.store.base import Store

log = logging.getLogger("llmvet.review")
ACTIONS: dict[str, ReviewOutcome] = {"approve": "approved", "reject": "rejected", "edit": "edited"}


class ReviewService:
    def __init__(self, host: Host, settings: ReviewSettings) -> None:
        self.host = host
        self.settings = settings
        self.queue: ReviewQueue | None = None  # set by start(): the store exists only inside the lifespan
        self.accounts: Accounts | None = None
        self.webhook: Webhook | None = None

    def start(self) -> None:
        store = self.store
        self.queue = ReviewQueue(
            store,
            lease_seconds=self.settings.lease_seconds,
            poll_interval=self.settings.poll_interval,
            wake_ups=self.settings.wake_ups,
            keep_seconds=self.settings.keep_days * 86400,
        )
        self.accounts = Accounts(store, session_seconds=self.settings.session_hours * 3600)
        if self.settings.webhook_url:
            if not self.settings.webhook_secret:
                log.warning(
                    "LLMVET_REVIEW_WEBHOOK_URL is set without LLMVET_REVIEW_WEBHOOK_SECRET: "
                    "deliveries are signed with an empty key"
                )
            self.webhook = Webhook(self.settings.webhook_url, self.settings.webhook_secret)

    @property
    def store(self) -> Store:
        return self.host.resources.store

    # ---- ReviewAccess (for other extensions) ----------------------------------------------------------
    async def pending_count(self) -> int:
        assert self.queue is not None
        return (await self.queue.counts()).get("pending", 0)

    async def decided_since(self, since: float, limit: int = 1000) -> list[ReviewItem]:
        assert self.queue is not None
        return await self.queue.decided_since(since, limit)

    async def reviewer_name(self, request: Request) -> str | None:
        if self.accounts is None:
            return None
        reviewer, _ = await reviewer_from(request, self.accounts)
        return reviewer.name if reviewer is not None else None

    # ---- after every outcome (in the process that recorded it) ----------------------------------------
    async def decided(self, item: ReviewItem) -> None:
        """Audit the outcome (durably, right away) and call the webhook."""
        try:
            await audit.write_now(self.store, [review_record(item, self.final_text(item))])
        except Exception:
            log.exception("could not write the audit record of review %s", item["id"])
        if self.webhook is not None:
            self.webhook.send_soon(
                self.host.resources.http, {"event": "review.decided", "review": self.public_view(item)}
            )

    @staticmethod
    def final_text(item: ReviewItem) -> str | None:
        """The answer text the client gets (or got) after the decision; None when it got an error."""
        final = item.get("decision")
        if not final:
            return None
        if final["outcome"] == "edited":
            return final["text"]
        if final["outcome"] == "approved" or (final["outcome"] == "timeout" and final.get("action") != "block"):
            return str(item["answer"]["text"])
        return None

    def public_view(self, item: ReviewItem) -> dict[str, Any]:
        """What the client app may see about its own review (no other tenant's data, no reviewer notes)."""
        final = item.get("decision")
        out: dict[str, Any] = {
            "id": item["id"],
            "object": "llmvet.review",
            "status": item["status"],
            "request_id": item["request_id"],
            "mode": item["mode"],
            "created": item["created"],
            "rule": item["rule"],
            "model": item["model"],
        }
        if final:
            out["decided_at"] = final["at"]
            out["reason"] = final.get("reason") or None
            text = self.final_text(item)
            out["answer"] = text
            if text is not None:
                if item["answer"].get("data") is not None:
                    out["response"] = self.host.response_with_text(item["route"], item["answer"], text)
            else:
                out["error"] = {
                    "message": final.get("reason") or "rejected",
                    "type": "llmvet_policy_violation",
                    "code": "rejected_by_reviewer" if final["outcome"] == "rejected" else "review_timeout",
                    "param": None,
                }
        return out

    async def expire_deferred(self, item: ReviewItem) -> ReviewItem:
        """Deferred items have no waiting client: their timeout applies when someone next looks at them."""
        if item["status"] == "pending" and item["mode"] == "defer" and time.time() > item["deadline"]:
            assert self.queue is not None
            expired = await self.queue.expire(item["id"], item["on_timeout"])
            if expired is not None:
                await self.decided(expired)
            item = await self.queue.get(item["id"]) or item
        return item

    # ---- reviewer actions (shared by the UI and the JSON API) -----------------------------------------
    async def decide(
        self, reviewer: str, review_id: str, action: str, *, reason: str = "", text: str | None = None
    ) -> ReviewItem:
        assert self.queue is not None
        if action not in ACTIONS:
            raise QueueError(400, f"unknown action {action!r}: approve, reject or edit")
        outcome = ACTIONS[action]
        if outcome in ("approved", "edited") and text is not None:
            item = await self.queue.get(review_id)
            if item is None:
                raise QueueError(404, f"no review item {review_id!r}")
            text = text.replace("\r\n", "\n")
            outcome = "approved" if text == item["answer"]["text"] else "edited"
        elif outcome == "edited":
            raise QueueError(400, "edit needs the new answer text")
        decided = await self.queue.decide(
            review_id, reviewer, outcome, reason=reason, text=text if outcome == "edited" else None
        )
        log.info("review %s %s by %s", review_id, outcome, reviewer)
        await self.decided(decided)
        return decided

    async def allow_package(
        self, reviewer: str, review_id: str, finding_index: int | None, package: str, ecosystem: str, reason: str = ""
    ) -> dict[str, Any]:
        assert self.queue is not None
        item = await self.queue.get(review_id)
        if item is None:
            raise QueueError(404, f"no review item {review_id!r}")
        finding = None
        if finding_index is not None:
            if not 0 <= finding_index < len(item["findings"]):
                raise QueueError(400, f"no finding #{finding_index} on this item")
            finding = item["findings"][finding_index]
        try:
            return await allowlist.add(
                self.store,
                item["policy"],
                ecosystem,
                package,
                by=reviewer,
                reason=reason,
                review_id=review_id,
                finding=finding,
            )
        except ValueError as exc:
            raise QueueError(400, str(exc)) from None


def review_record(item: ReviewItem, final_text: str | None) -> AuditRecord:
    """The audit record of a review outcome."""
    final = item["decision"]
    outcome = final["outcome"]
    return AuditRecord(
        ts=final["at"],
        kind="review",
        request_id=item["request_id"],
        review_id=item["id"],
        route=item["route"],
        model=item["model"],
        key=item.get("key"),
        key_label=item.get("key_label"),
        policy=item["policy"],
        policy_version=item["policy_version"],
        rule=item["rule"],
        mode=item["mode"],
        action=outcome if outcome != "timeout" else f"timeout:{final.get('action')}",
        reviewer=final.get("reviewer"),
        reason=final.get("reason"),
        validators=item["validators"],
        findings=item["findings"],
        timings_ms={"in_queue": round((final["at"] - item["created"]) * 1000, 2)},
        request_sha256=item["request_sha256"],
        response_sha256=item["response_sha256"],
        final_response_sha256=hashlib.sha256(final_text.encode()).hexdigest() if final_text is not None else None,
    )
