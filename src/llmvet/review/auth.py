"""Reviewer identities: tokens (stored only as hashes), browser sessions and CSRF tokens.

Layout in the store:
  ns "reviewer"        key = name                 -> {"name", "role", "token_sha256", "created", "revoked"}
  ns "reviewer_token"  key = sha256(token)        -> name
  ns "review_session"  key = sha256(session id)   -> {"name", "token_sha256", "csrf", "created"} with a TTL

A session belongs to the token it was opened with: revoking or re-issuing that token ends it, and
re-issuing a token after a revocation does not bring old sessions back.

Tokens are 192 random bits, so one round of SHA-256 is enough (no password stretching needed).
The proxy's client API keys live elsewhere (the policy's `keys:`) and never match a reviewer token.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal

from llmvet import audit
from llmvet.records import AuditRecord
from llmvet.store import keys
from llmvet.store.base import Store

REVIEWERS, TOKENS, SESSIONS = keys.REVIEWERS, keys.REVIEWER_TOKENS, keys.REVIEW_SESSIONS
TOKEN_PREFIX = "lvr_"
Role = Literal["reviewer", "admin"]
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(slots=True)
class Reviewer:
    name: str
    role: str
    session_key: str | None = None  # sha256 of the session id when authenticated by cookie
    csrf: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class AuthError(Exception):
    pass


class Accounts:
    def __init__(self, store: Store, *, session_seconds: float = 12 * 3600) -> None:
        self.store = store
        self.session_seconds = session_seconds

    # ---- reviewers (the CLI and the admin page) ----------------------------------------------------------
    async def add(self, name: str, role: Role = "reviewer") -> str:
        """Create (or re-issue) a reviewer; returns the token, which is shown once and never stored."""
        if not NAME_RE.match(name):
            raise AuthError(f"invalid reviewer name {name!r}: use letters, digits, . _ @ - (max 64)")
        if role not in ("reviewer", "admin"):
            raise AuthError(f"invalid role {role!r}: reviewer or admin")
        old = await self.store.get(REVIEWERS, name)
        if old is not None:
            await self.store.delete(TOKENS, old["token_sha256"])
        token = TOKEN_PREFIX + secrets.token_urlsafe(24)
        digest = sha256(token)
        await self.store.set(TOKENS, digest, name)
        await self.store.set(
            REVIEWERS,
            name,
            {"name": name, "role": role, "token_sha256": digest, "created": time.time(), "revoked": None},
        )
        return token

    async def revoke(self, name: str, by: str | None = None) -> bool:
        """Revoke a reviewer's token; their open sessions stop working on their next request."""
        rec = await self.store.get(REVIEWERS, name)
        if rec is None or rec.get("revoked"):
            return False
        await self.store.delete(TOKENS, rec["token_sha256"])
        rec["revoked"] = {"at": time.time(), "by": by}
        await self.store.set(REVIEWERS, name, rec)
        await audit.write_now(
            self.store, [AuditRecord(ts=rec["revoked"]["at"], kind="reviewer.revoke", reviewer=name, by=by)]
        )
        return True

    async def list(self) -> list[dict[str, Any]]:
        names = await self.store.keys(REVIEWERS)
        recs = await self.store.get_many(REVIEWERS, names)
        return [{k: v for k, v in recs[n].items() if k != "token_sha256"} for n in names if n in recs]

    # ---- authentication ------------------------------------------------------------------------------------
    async def by_token(self, token: str) -> Reviewer | None:
        if not token.startswith(TOKEN_PREFIX):
            return None  # e.g. a client API key: never a reviewer
        name = await self.store.get(TOKENS, sha256(token))
        if name is None:
            return None
        return await self._active(name)

    async def _active_record(self, name: str) -> dict[str, Any] | None:
        rec = await self.store.get(REVIEWERS, name)
        if rec is None or rec.get("revoked"):
            return None
        return rec

    async def _active(self, name: str) -> Reviewer | None:
        rec = await self._active_record(name)
        return None if rec is None else Reviewer(rec["name"], rec["role"])

    async def open_session(self, reviewer: Reviewer) -> tuple[str, Reviewer]:
        rec = await self._active_record(reviewer.name)
        if rec is None:
            raise AuthError(f"reviewer {reviewer.name!r} is not active")
        sid = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        key = sha256(sid)
        await self.store.set(
            SESSIONS,
            key,
            {"name": reviewer.name, "token_sha256": rec["token_sha256"], "csrf": csrf, "created": time.time()},
            ttl=self.session_seconds,
        )
        return sid, Reviewer(rec["name"], rec["role"], key, csrf)

    async def by_session(self, sid: str) -> Reviewer | None:
        key = sha256(sid)
        rec = await self.store.get(SESSIONS, key)
        if rec is None:
            return None
        # The session dies with the token it was opened with (revoked, or re-issued because it leaked).
        reviewer_rec = await self._active_record(rec["name"])
        if reviewer_rec is None or not hmac.compare_digest(
            str(rec.get("token_sha256", "")), reviewer_rec["token_sha256"]
        ):
            await self.store.delete(SESSIONS, key)
            return None
        return Reviewer(reviewer_rec["name"], reviewer_rec["role"], key, rec["csrf"])

    async def close_session(self, reviewer: Reviewer) -> None:
        if reviewer.session_key:
            await self.store.delete(SESSIONS, reviewer.session_key)


def csrf_ok(expected: str | None, given: str | None) -> bool:
    # As bytes: compare_digest refuses str with non-ASCII characters (TypeError), and `given` is anyone's input.
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected).encode(), str(given).encode())
