"""The review extension: turns `escalate` decisions into queue items, serves /review and the JSON API.

hold:  the client's request waits (up to the rule's escalate.timeout) for a reviewer's decision; if the
       replica shuts down first, it gets the deferred answer below instead.
defer: the client gets an answer at once with a pending notice and a review id it can poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path
from typing import ClassVar

from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from llmvet.extensions import Escalation, Extension, Host, Outcome, ReviewAccess
from llmvet.records import ReviewFinal
from llmvet.review.api import ReviewApi
from llmvet.review.service import ReviewService
from llmvet.review.settings import ReviewSettings
from llmvet.review.ui import ReviewUi

log = logging.getLogger("llmvet.review")
HERE = Path(__file__).parent


class ReviewExtension(Extension):
    order: ClassVar[int] = 200  # after observability: its /review/dashboard routes match first
    handles_escalations: ClassVar[bool] = True

    def __init__(self, host: Host, settings: ReviewSettings | None = None) -> None:
        super().__init__(host)
        self.settings = settings or ReviewSettings()
        self.service = ReviewService(host, self.settings)
        self.routes = [
            *ReviewUi(self.service).routes(),
            Mount("/review/static", StaticFiles(directory=HERE / "static"), name="review-static"),
            *ReviewApi(self.service).routes(),
        ]

    async def start(self) -> None:
        self.service.start()
        assert self.service.queue is not None
        await self.service.queue.start()

    async def stop(self) -> None:
        if self.service.queue is not None:
            await self.service.queue.close()
        if self.service.webhook is not None:
            await self.service.webhook.drain()

    async def release_held(self) -> None:
        if self.service.queue is not None:  # held requests get a "pending" answer, not a cut connection
            self.service.queue.release_waiters()

    def review_access(self) -> ReviewAccess:
        return self.service

    async def escalate(self, case: Escalation) -> Outcome:
        queue = self.service.queue
        assert queue is not None
        item = case.review_item()
        item["deadline"] = time.time() + case.timeout
        try:
            item = await queue.enqueue(item)
        except Exception as exc:  # escalation fails closed: no unreviewed answer leaves without a queue
            log.exception("could not queue request %s for review", case.request_id)
            return Outcome("unavailable", reason=type(exc).__name__)
        rid = item["id"]
        log.info("request %s escalated for review (%s, %s mode)", case.request_id, rid, case.mode)
        if case.mode == "defer":
            return Outcome("pending", rid)
        try:
            final = await queue.wait(rid, case.timeout)
        except asyncio.CancelledError:  # the client went away; the item stays in the queue
            with contextlib.suppress(Exception):
                await asyncio.shield(queue.client_gone(rid))
            raise
        if final is None and queue.released:
            final = await self.hand_over(rid)
            if final is None:
                return Outcome("pending", rid)
        if final is None:
            final = await self.time_out(rid, case.on_timeout)
        return Outcome(
            final["outcome"],
            rid,
            text=final.get("text"),
            reviewer=final.get("reviewer"),
            reason=final.get("reason"),
            action=final.get("action"),
        )

    async def hand_over(self, rid: str) -> ReviewFinal | None:
        """The replica is shutting down: the held client gets what a deferred escalation gets (None here:
        the review id and where to read the decision), and the item stays in the queue for any replica
        to decide. A decision that came in meanwhile is returned instead."""
        queue = self.service.queue
        assert queue is not None
        try:
            final = await queue.hand_over(rid)
        except Exception:  # the answer still goes out; the item stays a held one in the queue
            log.exception("could not mark review %s as handed over", rid)
            return None
        if final is None:
            log.info("review %s: the held client got a pending answer (shutdown)", rid)
        return final

    async def time_out(self, rid: str, on_timeout: str) -> ReviewFinal:
        """Record the timeout (unless a decision won the race) and return whichever outcome stands."""
        queue = self.service.queue
        assert queue is not None
        try:
            expired = await queue.expire(rid, on_timeout)
            if expired is not None:
                await self.service.decided(expired)
            current = await queue.get(rid)
            if current is not None and current.get("decision"):
                return current["decision"]
        except Exception:
            log.exception("could not record the timeout of %s", rid)
        # the store is unreachable: the rule's on_timeout still applies
        return ReviewFinal(
            outcome="timeout", action=on_timeout, reviewer=None, reason="no reviewer decided in time", at=time.time()
        )
