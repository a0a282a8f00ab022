"""The reviewer UI at /review: server-rendered (jinja2) pages, plain HTML forms, a little JavaScript."""

from __future__ import annotations

import json
import logging
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from llmvet.review import allowlist, listing
from llmvet.review.auth import AuthError, Reviewer, csrf_ok
from llmvet.review.highlight import plain_bidi, reveal_bidi, segments, span_in_answer
from llmvet.review.queue import QueueError
from llmvet.review.service import ReviewService
from llmvet.review.web import (
    CSRF_FIELD,
    LOGIN_CSRF_COOKIE,
    SECURITY_HEADERS,
    SESSION_COOKIE,
    Abort,
    csrf_valid,
    set_cookie,
)
from llmvet.store.keys import allowlist_key
from llmvet.text import content_text

log = logging.getLogger("llmvet.review")
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def _ago(ts: float) -> str:
    s = max(0, int(time.time() - ts))
    if s < 60:
        return f"{s}s ago"
    if s < 3600:
        return f"{s // 60}m ago"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60}m ago"
    return f"{s // 86400}d ago"


TEMPLATES.env.filters["ago"] = _ago
TEMPLATES.env.filters["when"] = lambda ts: time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))
TEMPLATES.env.filters["urlencode_query"] = lambda d: urlencode(d)
TEMPLATES.env.filters["reveal_bidi"] = reveal_bidi  # answers and anything quoting them
TEMPLATES.env.filters["plain_bidi"] = plain_bidi  # the same inside attributes
# The outcome of a form travels to the next page in a short-lived cookie, never in the URL: text in
# `?flash=` would let anyone who sends a reviewer a link put words in llmvet's mouth.
FLASH_COOKIE = "llmvet_review_flash"


class ReviewUi:
    def __init__(self, ext: ReviewService) -> None:
        self.ext = ext

    def routes(self) -> list[Route]:
        w = self.wrap
        return [
            Route("/review", w(self.queue_page), methods=["GET"]),
            Route("/review/", w(self.queue_page), methods=["GET"]),
            Route("/review/login", w(self.login_page), methods=["GET"]),
            Route("/review/login", w(self.login), methods=["POST"]),
            Route("/review/logout", w(self.logout), methods=["POST"]),
            Route("/review/items/{id}", w(self.item_page), methods=["GET"]),
            Route("/review/items/{id}/decide", w(self.decide), methods=["POST"]),
            Route("/review/items/{id}/release", w(self.release), methods=["POST"]),
            Route("/review/items/{id}/allowlist", w(self.allow), methods=["POST"]),
            Route("/review/admin", w(self.admin_page), methods=["GET"]),
            Route("/review/admin/revoke", w(self.revoke), methods=["POST"]),
            Route("/review/allowlist/revert", w(self.revert), methods=["POST"]),
        ]

    def wrap(self, handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            if self.ext.queue is None:
                return Response("the review queue is not ready", 503)
            try:
                response = await handler(request)
            except Abort as exc:
                response = exc.response
            except Exception:  # e.g. the store went away (Redis failover): a page that says so, not a bare 500
                log.exception("review UI %s %s failed", request.method, request.url.path)
                response = self.render(
                    request,
                    "error.html",
                    503,
                    message="The review queue is unavailable right now (is its store reachable?). Reload in a moment.",
                )
            response.headers.update(SECURITY_HEADERS)
            return response

        return endpoint

    # ---- helpers -------------------------------------------------------------------------------------------------
    def render(self, request: Request, name: str, status: int = 200, **ctx: Any) -> Response:
        ctx.setdefault("me", None)
        flash = _read_flash(request.cookies.get(FLASH_COOKIE))
        ctx.setdefault("flash", flash.get("flash"))
        ctx.setdefault("error", flash.get("error"))
        ctx["csrf_field"] = CSRF_FIELD
        response = TEMPLATES.TemplateResponse(request, name, ctx, status_code=status)
        if FLASH_COOKIE in request.cookies:
            response.delete_cookie(FLASH_COOKIE, path="/review")  # shown once
        return response

    async def me(self, request: Request) -> Reviewer:
        """The signed-in reviewer (session cookie only: the UI never accepts bearer tokens per request)."""
        assert self.ext.accounts is not None
        sid = request.cookies.get(SESSION_COOKIE)
        who = await self.ext.accounts.by_session(sid) if sid else None
        if who is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            if request.method != "GET":
                raise Abort(Response("not signed in", 401, media_type="text/plain"))
            raise Abort(RedirectResponse(f"/review/login?next={quote(target)}", 303))
        return who

    async def form(self, request: Request, who: Reviewer) -> Any:
        form = await request.form()
        if not csrf_valid(who, form.get(CSRF_FIELD)):
            raise Abort(
                self.render(
                    request,
                    "error.html",
                    403,
                    me=None,
                    message="This form has expired or did not come from this site (CSRF check "
                    "failed). Go back, reload the page and try again.",
                )
            )
        return form

    @staticmethod
    def back(request: Request, path: str, *, flash: str = "", error: str = "") -> RedirectResponse:
        """Redirect after a form; the next page shows `flash` (done) or `error` (not done)."""
        response = RedirectResponse(path, 303)
        message = {k: v for k, v in (("flash", flash), ("error", error)) if v}
        if message:
            set_cookie(request, response, FLASH_COOKIE, quote(json.dumps(message)), 60, path="/review")
        return response

    # ---- sign in / out ---------------------------------------------------------------------------------------------
    async def login_page(self, request: Request, error: str | None = None, status: int = 200) -> Response:
        token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
        nxt = request.query_params.get("next") or ""
        response = self.render(request, "login.html", status, login_csrf=token, next=nxt, error=error)
        set_cookie(request, response, LOGIN_CSRF_COOKIE, token, 3600, path="/review")
        return response

    async def login(self, request: Request) -> Response:
        assert self.ext.accounts is not None
        form = await request.form()
        expected = request.cookies.get(LOGIN_CSRF_COOKIE)
        if not csrf_ok(expected, str(form.get(CSRF_FIELD) or "")):
            return await self.login_page(request, "The sign-in form expired; please try again.", 403)
        who = await self.ext.accounts.by_token(str(form.get("token") or "").strip())
        try:
            if who is None:
                raise AuthError("unknown token")
            sid, _ = await self.ext.accounts.open_session(who)
        except AuthError:  # unknown, or revoked between the two look-ups
            return await self.login_page(request, "That token is not valid (or was revoked).", 401)
        nxt = str(form.get("next") or "")
        target = nxt if nxt.startswith("/review") and "//" not in nxt and "\\" not in nxt else "/review"
        response = RedirectResponse(target, 303)
        set_cookie(request, response, SESSION_COOKIE, sid, int(self.ext.accounts.session_seconds))
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/review")
        return response

    async def logout(self, request: Request) -> Response:
        who = await self.me(request)
        await self.form(request, who)
        assert self.ext.accounts is not None
        await self.ext.accounts.close_session(who)
        response = RedirectResponse("/review/login", 303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # ---- queue and history -----------------------------------------------------------------------------------------
    async def queue_page(self, request: Request) -> Response:
        who = await self.me(request)
        assert self.ext.queue is not None
        f = listing.Filters.from_query(request.query_params)
        page = await listing.view(self.ext.queue, f, 500, self.ext.expire_deferred)
        return self.render(
            request,
            "queue.html",
            me=who,
            items=[listing.summary(i) for i in page.items],
            total=page.total,
            counts=page.counts,
            filters=f,
            options=page.options,
            now=time.time(),
        )

    # ---- one item -----------------------------------------------------------------------------------------------------
    async def item_page(self, request: Request) -> Response:
        who = await self.me(request)
        assert self.ext.queue is not None
        rid = request.path_params["id"]
        item = await self.ext.queue.get(rid)
        if item is None:
            return self.render(request, "error.html", 404, me=who, message=f"There is no review item {rid}.")
        item = await self.ext.expire_deferred(item)
        lease, busy = None, None
        if item["status"] == "pending":
            try:
                lease = (await self.ext.queue.claim(rid, who.name))["lease"]
            except QueueError as exc:
                busy = exc.message
        text = item["answer"]["text"]
        findings = item["findings"]
        allowed = {e["key"]: e for e in await allowlist.entries(self.ext.store, item["policy"])}
        for i, f in enumerate(findings):
            f["index"] = i
            span = span_in_answer(f, text)
            f["quote"] = text[span[0] : span[1]] if span else None
            f["package"] = _package_of(f)
            if f["package"]:
                key = allowlist_key(item["policy"], f["package"][1], f["package"][0])
                f["allowlisted"] = allowed.get(key)
        return self.render(
            request,
            "item.html",
            me=who,
            item=item,
            segments=segments(text, findings),
            lease=lease,
            busy=busy,
            conversation=[{"role": m["role"], "content": content_text(m["content"])} for m in item["conversation"]],
            final_text=self.ext.final_text(item),
            now=time.time(),
            lease_seconds=int(self.ext.settings.lease_seconds),
        )

    async def decide(self, request: Request) -> Response:
        who = await self.me(request)
        form = await self.form(request, who)
        rid = request.path_params["id"]
        action = str(form.get("action") or "")
        text = form.get("text") if action == "edit" else None
        try:
            await self.ext.decide(
                who.name,
                rid,
                action,
                reason=str(form.get("reason") or ""),
                text=str(text) if text is not None else None,
            )
        except QueueError as exc:
            return self.back(request, f"/review/items/{rid}", error=exc.message)
        verb = {"approve": "Approved", "reject": "Rejected", "edit": "Edited and approved"}.get(action, action)
        return self.back(request, "/review", flash=f"{verb} {rid}.")

    async def release(self, request: Request) -> Response:
        who = await self.me(request)
        await self.form(request, who)
        assert self.ext.queue is not None
        await self.ext.queue.release(request.path_params["id"], who.name)
        return self.back(request, "/review", flash="Released; the item is back in the queue.")

    async def allow(self, request: Request) -> Response:
        who = await self.me(request)
        form = await self.form(request, who)
        rid = request.path_params["id"]
        try:
            idx = int(str(form.get("finding"))) if form.get("finding") not in (None, "") else None
            entry = await self.ext.allow_package(
                who.name,
                rid,
                idx,
                str(form.get("package") or ""),
                str(form.get("ecosystem") or "pypi"),
                str(form.get("reason") or ""),
            )
        except (QueueError, ValueError) as exc:
            return self.back(request, f"/review/items/{rid}", error=getattr(exc, "message", str(exc)))
        return self.back(
            request,
            f"/review/items/{rid}",
            flash=f"Added {entry['package']} ({entry['ecosystem']}) to the allowlist of {entry['policy']}.",
        )

    # ---- admin --------------------------------------------------------------------------------------------------------
    async def admin_page(self, request: Request) -> Response:
        who = await self.me(request)
        assert self.ext.accounts is not None
        reviewers = await self.ext.accounts.list() if who.is_admin else []
        entries = await allowlist.entries(self.ext.store)
        return self.render(request, "admin.html", me=who, reviewers=reviewers, entries=entries)

    async def revoke(self, request: Request) -> Response:
        who = await self.me(request)
        form = await self.form(request, who)
        if not who.is_admin:
            return self.render(request, "error.html", 403, me=who, message="Only admins can revoke tokens.")
        assert self.ext.accounts is not None
        name = str(form.get("name") or "")
        ok = await self.ext.accounts.revoke(name, by=who.name)
        if not ok:
            return self.back(request, "/review/admin", error=f"No active {name}.")
        return self.back(request, "/review/admin", flash=f"Revoked {name}.")

    async def revert(self, request: Request) -> Response:
        who = await self.me(request)
        form = await self.form(request, who)
        entry = await allowlist.revert(self.ext.store, str(form.get("key") or ""), by=who.name)
        back = str(form.get("back") or "/review/admin")
        back = back if back.startswith("/review") and "//" not in back else "/review/admin"
        if entry is None:
            return self.back(request, back, error="That allowlist entry is gone already.")
        return self.back(request, back, flash=f"Removed {entry['package']} from the allowlist of {entry['policy']}.")


def _package_of(finding: dict[str, Any]) -> tuple[str, str] | None:
    """(package, ecosystem) when a finding is about a package (the packages validator's evidence)."""
    ev = finding.get("evidence") or {}
    name = ev.get("package") or ev.get("name")
    if not name and not str(finding.get("code", "")).startswith("package"):
        return None
    name = name or finding.get("quote")
    if not name or not isinstance(name, str):
        return None
    eco = str(ev.get("ecosystem") or ev.get("registry") or "").lower()
    if not eco:
        tool = str(ev.get("tool") or "")
        eco = "npm" if tool.startswith(("npm", "yarn", "pnpm", "js-", "package.json")) else "pypi"
    return name, eco if eco in allowlist.ECOSYSTEMS else "pypi"


def _read_flash(raw: str | None) -> dict[str, str]:
    if not raw:
        return {}
    try:
        data = json.loads(unquote(raw))
    except ValueError:
        return {}
    return (
        {k: v for k, v in data.items() if k in ("flash", "error") and isinstance(v, str)}
        if isinstance(data, dict)
        else {}
    )
