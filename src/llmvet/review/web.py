"""Who is asking, and may they: reviewer tokens (JSON API), session cookies + CSRF (browser)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from llmvet.review.auth import Accounts, Reviewer, csrf_ok

SESSION_COOKIE = "llmvet_review_session"
LOGIN_CSRF_COOKIE = "llmvet_review_login"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"

SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


class Abort(Exception):
    """Stop a handler and answer with `response` (an error page or an OpenAI-shaped error)."""

    def __init__(self, response: Response) -> None:
        self.response = response


def is_https(request: Request) -> bool:
    proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or proto == "https"


def set_cookie(
    request: Request, response: Response, name: str, value: str, max_age: int | None, path: str = "/"
) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path=path, httponly=True, samesite="lax", secure=is_https(request)
    )


def bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return None


async def reviewer_from(request: Request, accounts: Accounts) -> tuple[Reviewer | None, str]:
    """(reviewer, how): how is "token" (Authorization header) or "session" (cookie)."""
    token = bearer(request)
    if token:
        return await accounts.by_token(token), "token"
    sid = request.cookies.get(SESSION_COOKIE)
    if sid:
        return await accounts.by_session(sid), "session"
    return None, ""


def csrf_valid(reviewer: Reviewer, given: Any) -> bool:
    return csrf_ok(reviewer.csrf, given if isinstance(given, str) else None)
