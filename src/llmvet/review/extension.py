"""The review extension: turns `escalate` decisions into queue items, serves /review and the JSON API.

hold:  the client's request waits (up to the rule's escalate.timeout) for a reviewer's decision.
defer: the client gets an answer at once with a pending notice and a review id it can poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from pathlib import Path
from typing import Any

import orjson
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from llmvet.policy.engine import Decision
from llmvet.proxy.app import Answer, Exchange, Extension, LlmvetProxy
from llmvet.proxy.errors import error_response
from llmvet.proxy.wire import WIRES
from llmvet.review import allowlist
from llmvet.review.answers import replace_text, restore, snapshot
from llmvet.review.auth import Accounts
from llmvet.review.queue import QueueError, ReviewQueue
from llmvet.review.webhook import Webhook
from llmvet.text import content_text

log = logging.getLogger("llmvet.review")
HERE = Path(__file__).parent


class ReviewSettings(BaseSettings):
    """LLMVET_REVIEW_* environment variables."""

    model_config = SettingsConfigDict(env_prefix="LLMVET_REVIEW_", extra="ignore")
    webhook_url: str = Field("", description="POSTed (signed) on every decision; empty = no webhook")
    webhook_secret: str = Field("", description="HMAC-SHA256 key for the x-llmvet-signature header")
    lease_seconds: float = Field(300.0, gt=0, description="how long a reviewer holds an item they opened")
    poll_interval: float = Field(0.2, gt=0, description="how often a held request checks for a decision")
    session_hours: float = Field(12.0, gt=0)
    keep_days: float = Field(30.0, gt=0, description="decided items stay in the history this long (audit: for good)")


class ReviewExtension(Extension):
    def __init__(self, proxy: LlmvetProxy, settings: ReviewSettings | None = None) -> None:
        super().__init__(proxy)
        from llmvet.review import api, ui  # route handlers, split by audience

        self.settings = settings or ReviewSettings()
        self.queue: ReviewQueue | None = None
        self.accounts: Accounts | None = None
        self.webhook: Webhook | None = None
        self.api = api.ReviewApi(self)
        self.ui = ui.ReviewUi(self)
        self.routes = [
            *self.ui.routes(),
            Mount("/review/static", StaticFiles(directory=HERE / "static"), name="review-static"),
            *self.api.routes(),
        ]

    async def start(self) -> None:
        assert self.proxy.resources is not None
        store = self.proxy.resources.store
        self.queue = ReviewQueue(store, lease_seconds=self.settings.lease_seconds,
                                 poll_interval=self.settings.poll_interval,
                                 keep_seconds=self.settings.keep_days * 86400)
        self.accounts = Accounts(store, session_seconds=self.settings.session_hours * 3600)
        if self.settings.webhook_url:
            if not self.settings.webhook_secret:
                log.warning("LLMVET_REVIEW_WEBHOOK_URL is set without LLMVET_REVIEW_WEBHOOK_SECRET: "
                            "deliveries are signed with an empty key")
            self.webhook = Webhook(self.settings.webhook_url, self.settings.webhook_secret)
        self.proxy.escalation = self.escalate

    async def stop(self) -> None:
        if self.webhook is not None:
            await self.webhook.drain()

    # ---- the escalation handler -------------------------------------------------------------------------
    async def escalate(self, proxy: LlmvetProxy, ex: Exchange, answer: Answer, decision: Decision) -> Response:
        assert self.queue is not None
        settings = ex.rule.rule.escalate
        try:
            item = await self.queue.enqueue(self.new_item(ex, answer, decision))
        except Exception as exc:  # escalation fails closed: no unreviewed answer leaves without a queue
            log.exception("could not queue request %s for review", ex.request_id)
            headers = self.proxy.decision_headers(ex, decision) | {"x-llmvet-decision": "block"}
            return error_response(503, f"escalated for human review, but the review queue is unavailable "
                                       f"({type(exc).__name__})", "llmvet_policy_violation", "review_unavailable",
                                  None, headers, extra={"llmvet": self.proxy.annotation(ex, decision)})
        log.info("request %s escalated for review (%s, %s mode)", ex.request_id, item["id"], settings.mode)
        if settings.mode == "defer":
            return self.pending_response(ex, answer, decision, item)
        try:
            final = await self.queue.wait(item["id"], settings.timeout)
        except asyncio.CancelledError:  # the client went away; the item stays in the queue
            with contextlib.suppress(Exception):
                await asyncio.shield(self.queue.client_gone(item["id"]))
            raise
        if final is None:
            try:
                expired = await self.queue.expire(item["id"], settings.on_timeout)
                if expired is not None:
                    await self.decided(expired)
                current = await self.queue.get(item["id"])
                final = current["decision"] if current else None
            except Exception:
                log.exception("could not record the timeout of %s", item["id"])
            if final is None:  # the store is unreachable: the rule's on_timeout still applies
                final = {"outcome": "timeout", "action": settings.on_timeout, "reviewer": None,
                         "reason": "no reviewer decided in time", "at": time.time()}
        return self.final_response(ex, answer, decision, item["id"], final)

    def new_item(self, ex: Exchange, answer: Answer, decision: Decision) -> dict[str, Any]:
        s = ex.rule.rule.escalate
        return {
            "request_id": ex.request_id,
            "mode": s.mode,
            "timeout": s.timeout,
            "on_timeout": s.on_timeout,
            "deadline": time.time() + s.timeout,
            "policy": self.proxy.policy.name,
            "policy_version": self.proxy.policy.version,
            "rule": ex.rule.name,
            "route": ex.wire.route,
            "model": ex.body.get("model"),
            "stream": ex.stream,
            "key": ex.key_hash,
            "key_label": ex.key_label,
            "conversation": [{"role": str(m.get("role", "")), "content": content_text(m.get("content"))}
                             for m in ex.wire.conversation(ex.body)],
            "request_sha256": hashlib.sha256(orjson.dumps(ex.body)).hexdigest(),
            "answer": snapshot(answer),
            "response_sha256": hashlib.sha256(answer.text.encode()).hexdigest(),
            "validators": [r.to_dict() for r in decision.runs],
            "findings": [f.to_dict() for f in decision.findings],
            "summary": decision.summary(),
            "validator_names": sorted({r.label for r in decision.runs if r.action == "escalate"}),
        }

    # ---- what the client gets ------------------------------------------------------------------------------
    def review_note(self, ex: Exchange, decision: Decision, review_id: str, final: dict[str, Any] | None
                    ) -> dict[str, Any]:
        note = self.proxy.annotation(ex, decision)
        review: dict[str, Any] = {"id": review_id, "status": final["outcome"] if final else "pending",
                                  "url": f"/llmvet/v1/reviews/{review_id}"}
        if final:
            review.update(reviewer=final.get("reviewer"), reason=final.get("reason") or None)
            if final["outcome"] == "timeout":
                review["action"] = final.get("action")
        note["review"] = review
        return note

    def headers(self, ex: Exchange, answer: Answer, decision: Decision, review_id: str, status: str
                ) -> dict[str, str]:
        return {**answer.headers, **self.proxy.decision_headers(ex, decision),
                "x-llmvet-review-id": review_id, "x-llmvet-review-status": status}

    def pending_response(self, ex: Exchange, answer: Answer, decision: Decision, item: dict[str, Any]) -> Response:
        rid = item["id"]
        notice = (f"This answer is waiting for human review (review id {rid}). "
                  f"Fetch GET /llmvet/v1/reviews/{rid} for the decision and the final answer.")
        placeholder = replace_text(ex.wire, answer, notice)
        headers = self.headers(ex, answer, decision, rid, "pending")
        return self.proxy.rewrite(ex, placeholder, headers, self.review_note(ex, decision, rid, None), None)

    def final_response(self, ex: Exchange, answer: Answer, decision: Decision, review_id: str,
                       final: dict[str, Any]) -> Response:
        outcome = final["outcome"]
        headers = self.headers(ex, answer, decision, review_id, outcome)
        note = self.review_note(ex, decision, review_id, final)
        action = final.get("action") if outcome == "timeout" else None
        if outcome == "rejected" or action == "block":
            headers["x-llmvet-decision"] = "block"
            for k in [k for k in headers if k.lower() in ("content-type", "content-length")]:
                del headers[k]
            if outcome == "rejected":
                message = f"A reviewer rejected this answer (rule {ex.rule.name!r}): {final.get('reason')}"
                code = "rejected_by_reviewer"
            else:
                message = (f"No reviewer decided within {ex.rule.rule.escalate.timeout:g}s "
                           f"(rule {ex.rule.name!r}): {decision.summary()}")
                code = "review_timeout"
            return error_response(ex.rule.rule.block.status, message, "llmvet_policy_violation", code, None, headers,
                                  extra={"llmvet": note | {"decision": "block"}})
        if outcome == "edited":
            answer = replace_text(ex.wire, answer, final["text"])
        headers["x-llmvet-decision"] = "annotate" if action == "annotate" else "allow"
        if action == "allow":
            return self.proxy.replay(ex, answer, headers)
        return self.proxy.rewrite(ex, answer, headers, note, None)

    # ---- after every outcome (in the process that recorded it) ------------------------------------------------
    async def decided(self, item: dict[str, Any]) -> None:
        """Audit the outcome (durably, right away) and call the webhook."""
        assert self.proxy.resources is not None
        final = item["decision"]
        text = self.final_text(item)
        record = {
            "ts": final["at"],
            "kind": "review",
            "request_id": item["request_id"],
            "review_id": item["id"],
            "route": item["route"],
            "model": item["model"],
            "key": item.get("key"),
            "key_label": item.get("key_label"),
            "policy": item["policy"],
            "policy_version": item["policy_version"],
            "rule": item["rule"],
            "mode": item["mode"],
            "action": final["outcome"] if final["outcome"] != "timeout" else f"timeout:{final.get('action')}",
            "reviewer": final.get("reviewer"),
            "reason": final.get("reason"),
            "validators": item["validators"],
            "findings": item["findings"],
            "timings_ms": {"in_queue": round((final["at"] - item["created"]) * 1000, 2)},
            "request_sha256": item["request_sha256"],
            "response_sha256": item["response_sha256"],
            "final_response_sha256": hashlib.sha256(text.encode()).hexdigest() if text is not None else None,
        }
        try:
            await self.proxy.resources.store.append("audit", [record])
        except Exception:
            log.exception("could not write the audit record of review %s", item["id"])
        if self.webhook is not None:
            self.webhook.send_soon(self.proxy.resources.http, {"event": "review.decided",
                                                               "review": self.public_view(item)})

    @staticmethod
    def final_text(item: dict[str, Any]) -> str | None:
        """The answer text the client gets (or got) after the decision; None when it got an error."""
        final = item.get("decision")
        if not final:
            return None
        if final["outcome"] == "edited":
            return final["text"]
        if final["outcome"] == "approved" or (final["outcome"] == "timeout" and final.get("action") != "block"):
            return item["answer"]["text"]
        return None

    def public_view(self, item: dict[str, Any]) -> dict[str, Any]:
        """What the client app may see about its own review (no other tenant's data, no reviewer notes)."""
        final = item.get("decision")
        out: dict[str, Any] = {"id": item["id"], "object": "llmvet.review", "status": item["status"],
                               "request_id": item["request_id"], "mode": item["mode"], "created": item["created"],
                               "rule": item["rule"], "model": item["model"]}
        if final:
            out["decided_at"] = final["at"]
            out["reason"] = final.get("reason") or None
            text = self.final_text(item)
            out["answer"] = text
            if text is not None:
                wire_answer = restore(item["answer"])
                if item["answer"].get("data") is not None:
                    out["response"] = replace_text(WIRES[item["route"]], wire_answer, text).data
            else:
                out["error"] = {"message": final.get("reason") or "rejected", "type": "llmvet_policy_violation",
                                "code": "rejected_by_reviewer" if final["outcome"] == "rejected" else "review_timeout",
                                "param": None}
        return out

    async def expire_deferred(self, item: dict[str, Any]) -> dict[str, Any]:
        """Deferred items have no waiting client: their timeout applies when someone next looks at them."""
        if item["status"] == "pending" and item["mode"] == "defer" and time.time() > item["deadline"]:
            assert self.queue is not None
            expired = await self.queue.expire(item["id"], item["on_timeout"])
            if expired is not None:
                await self.decided(expired)
            item = await self.queue.get(item["id"]) or item
        return item

    # ---- reviewer actions (shared by the UI and the JSON API) ---------------------------------------------
    async def decide(self, reviewer: str, review_id: str, action: str, *, reason: str = "",
                     text: str | None = None) -> dict[str, Any]:
        assert self.queue is not None
        if action not in ("approve", "reject", "edit"):
            raise QueueError(400, f"unknown action {action!r}: approve, reject or edit")
        outcome = {"approve": "approved", "reject": "rejected", "edit": "edited"}[action]
        if outcome in ("approved", "edited") and text is not None:
            item = await self.queue.get(review_id)
            if item is None:
                raise QueueError(404, f"no review item {review_id!r}")
            text = text.replace("\r\n", "\n")
            outcome = "approved" if text == item["answer"]["text"] else "edited"
        elif outcome == "edited":
            raise QueueError(400, "edit needs the new answer text")
        item = await self.queue.decide(review_id, reviewer, outcome, reason=reason,
                                       text=text if outcome == "edited" else None)
        log.info("review %s %s by %s", review_id, outcome, reviewer)
        await self.decided(item)
        return item

    async def allow_package(self, reviewer: str, review_id: str, finding_index: int | None, package: str,
                            ecosystem: str, reason: str = "") -> dict[str, Any]:
        assert self.queue is not None and self.proxy.resources is not None
        item = await self.queue.get(review_id)
        if item is None:
            raise QueueError(404, f"no review item {review_id!r}")
        finding = None
        if finding_index is not None:
            if not 0 <= finding_index < len(item["findings"]):
                raise QueueError(400, f"no finding #{finding_index} on this item")
            finding = item["findings"][finding_index]
        try:
            return await allowlist.add(self.proxy.resources.store, item["policy"], ecosystem, package, by=reviewer,
                                       reason=reason, review_id=review_id, finding=finding)
        except ValueError as exc:
            raise QueueError(400, str(exc)) from None
