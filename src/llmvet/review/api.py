"""The JSON API under /llmvet/v1: everything the reviewer UI does, for chat bots and ticket tools.

Reviewers authenticate with `Authorization: Bearer lvr_…` (their token), or with the UI's session
cookie plus an `x-csrf-token` header. A client app may read the status of its own review item with
the API key it made the request with (or with nothing when it made the request without one).
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from llmvet.errors import error_response
from llmvet.review import allowlist, listing
from llmvet.review.auth import AuthError, Reviewer
from llmvet.review.queue import QueueError
from llmvet.review.service import ReviewService
from llmvet.review.web import CSRF_HEADER, Abort, csrf_valid, reviewer_from

P = "/llmvet/v1"
log = logging.getLogger("llmvet.review")


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status, media_type="application/json", headers={"cache-control": "no-store"})


def _error(status: int, message: str, code: str) -> Response:
    return error_response(status, message, "llmvet_review_error", code)


class ReviewApi:
    def __init__(self, ext: ReviewService) -> None:
        self.ext = ext

    def routes(self) -> list[Route]:
        r = self.wrap
        return [
            Route(f"{P}/reviews", r(self.list_items), methods=["GET"]),
            Route(f"{P}/reviews/{{id}}", r(self.get_item), methods=["GET"]),
            Route(f"{P}/reviews/{{id}}/claim", r(self.claim), methods=["POST"]),
            Route(f"{P}/reviews/{{id}}/release", r(self.release), methods=["POST"]),
            Route(f"{P}/reviews/{{id}}/approve", r(self.approve), methods=["POST"]),
            Route(f"{P}/reviews/{{id}}/reject", r(self.reject), methods=["POST"]),
            Route(f"{P}/reviews/{{id}}/edit", r(self.edit), methods=["POST"]),
            Route(f"{P}/reviews/{{id}}/allowlist", r(self.allow), methods=["POST"]),
            Route(f"{P}/allowlist", r(self.list_allowlist), methods=["GET"]),
            Route(f"{P}/allowlist/{{key:path}}", r(self.revert_allowlist), methods=["DELETE"]),
            Route(f"{P}/reviewers", r(self.list_reviewers), methods=["GET"]),
            Route(f"{P}/reviewers/{{name}}/revoke", r(self.revoke), methods=["POST"]),
        ]

    def wrap(self, handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            if self.ext.queue is None:
                return _error(503, "the review queue is not ready", "not_ready")
            try:
                return await handler(request)
            except Abort as exc:
                return exc.response
            except QueueError as exc:
                return _error(exc.status, exc.message, "review_conflict" if exc.status == 409 else "review_error")
            except Exception:  # e.g. the store went away (Redis failover): an OpenAI-shaped 503, not a bare 500
                log.exception("review API %s %s failed", request.method, request.url.path)
                return _error(
                    503,
                    "the review queue could not answer (is its store reachable?); try again shortly",
                    "review_unavailable",
                )

        return endpoint

    async def reviewer(self, request: Request, *, admin: bool = False) -> Reviewer:
        assert self.ext.accounts is not None
        who, how = await reviewer_from(request, self.ext.accounts)
        if who is None:
            raise Abort(
                _error(
                    401, "a valid reviewer token is required (Authorization: Bearer lvr_…)", "invalid_reviewer_token"
                )
            )
        if (
            how == "session"
            and request.method not in ("GET", "HEAD")
            and not csrf_valid(who, request.headers.get(CSRF_HEADER))
        ):
            raise Abort(_error(403, "missing or wrong x-csrf-token header", "csrf_failed"))
        if admin and not who.is_admin:
            raise Abort(_error(403, "this needs an admin reviewer", "admin_required"))
        return who

    @staticmethod
    async def body(request: Request) -> dict[str, Any]:
        raw = await request.body()
        if not raw:
            return {}
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise Abort(_error(400, "the body must be a JSON object", "invalid_json")) from None
        if not isinstance(data, dict):
            raise Abort(_error(400, "the body must be a JSON object", "invalid_json"))
        return data

    # ---- queue -------------------------------------------------------------------------------------------------
    async def list_items(self, request: Request) -> Response:
        await self.reviewer(request)
        assert self.ext.queue is not None
        f = listing.Filters.from_query(request.query_params)
        try:
            limit = max(1, min(1000, int(request.query_params.get("limit") or 100)))
        except ValueError:
            limit = 100
        page = await listing.view(self.ext.queue, f, limit, self.ext.expire_deferred)
        return _json(
            {
                "object": "list",
                "data": [listing.summary(i) for i in page.items],
                "total": page.total,
                "counts": page.counts,
            }
        )

    async def get_item(self, request: Request) -> Response:
        assert self.ext.queue is not None and self.ext.accounts is not None
        rid = request.path_params["id"]
        who, _ = await reviewer_from(request, self.ext.accounts)
        item = await self.ext.queue.get(rid)
        if item is None:
            return _error(404, f"no review item {rid!r}", "review_not_found")
        item = await self.ext.expire_deferred(item)
        if who is not None:
            item["lease"] = await self.ext.queue.lease(rid)
            return _json(item)
        # The client app: the id is an unguessable capability; when the request carried an API key,
        # the same key must be presented.
        if item.get("key"):
            digest = self.ext.host.key_hash(request)  # the identity the proxy gave the request itself
            given = digest[:12] if digest else ""
            if not hmac.compare_digest(given, str(item["key"])):  # constant time: no hash prefix leaks by timing
                return _error(404, f"no review item {rid!r}", "review_not_found")
        return _json(self.ext.public_view(item))

    async def claim(self, request: Request) -> Response:
        who = await self.reviewer(request)
        assert self.ext.queue is not None
        item = await self.ext.queue.claim(request.path_params["id"], who.name)
        return _json({"id": item["id"], "lease": item["lease"]})

    async def release(self, request: Request) -> Response:
        who = await self.reviewer(request)
        assert self.ext.queue is not None
        await self.ext.queue.release(request.path_params["id"], who.name)
        return _json({"id": request.path_params["id"], "released": True})

    async def _decide(self, request: Request, action: str) -> Response:
        who = await self.reviewer(request)
        data = await self.body(request)
        text = data.get("text")
        if text is not None and not isinstance(text, str):
            return _error(400, "text must be a string", "invalid_text")
        reason = data.get("reason") or ""
        if not isinstance(reason, str):
            return _error(400, "reason must be a string", "invalid_reason")
        item = await self.ext.decide(who.name, request.path_params["id"], action, reason=reason, text=text)
        return _json(listing.summary(item))

    async def approve(self, request: Request) -> Response:
        return await self._decide(request, "approve")

    async def reject(self, request: Request) -> Response:
        return await self._decide(request, "reject")

    async def edit(self, request: Request) -> Response:
        return await self._decide(request, "edit")

    # ---- allowlist ------------------------------------------------------------------------------------------------
    async def allow(self, request: Request) -> Response:
        who = await self.reviewer(request)
        data = await self.body(request)
        idx = data.get("finding")
        if idx is not None and not isinstance(idx, int):
            return _error(400, "finding must be the finding's index", "invalid_finding")
        entry = await self.ext.allow_package(
            who.name,
            request.path_params["id"],
            idx,
            str(data.get("package") or ""),
            str(data.get("ecosystem") or "pypi"),
            str(data.get("reason") or ""),
        )
        return _json(entry, 201)

    async def list_allowlist(self, request: Request) -> Response:
        await self.reviewer(request)
        policy = request.query_params.get("policy")
        return _json({"object": "list", "data": await allowlist.entries(self.ext.store, policy)})

    async def revert_allowlist(self, request: Request) -> Response:
        who = await self.reviewer(request)
        entry = await allowlist.revert(self.ext.store, request.path_params["key"], by=who.name)
        if entry is None:
            return _error(404, "no such allowlist entry", "allowlist_not_found")
        return _json({"reverted": entry})

    # ---- reviewers (admin) ---------------------------------------------------------------------------------------
    async def list_reviewers(self, request: Request) -> Response:
        await self.reviewer(request, admin=True)
        assert self.ext.accounts is not None
        return _json({"object": "list", "data": await self.ext.accounts.list()})

    async def revoke(self, request: Request) -> Response:
        who = await self.reviewer(request, admin=True)
        assert self.ext.accounts is not None
        try:
            ok = await self.ext.accounts.revoke(request.path_params["name"], by=who.name)
        except AuthError as exc:
            return _error(400, str(exc), "invalid_reviewer")
        if not ok:
            return _error(404, "no such active reviewer", "reviewer_not_found")
        return _json({"name": request.path_params["name"], "revoked": True})
