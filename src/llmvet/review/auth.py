"""Reviewer identities: tokens (stored only as hashes), browser sessions and CSRF tokens.

Layout in the store:
  ns "reviewer"        key = name                 -> {"name", "role", "token_sha256", "created", "revoked"}
  ns "reviewer_token"  key = sha256(token)        -> name
  ns "review_session"  key = sha256(session id)   -> {"name", "role", "csrf", "created"} with a TTL

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

from llmvet.store.base import Store

REVIEWERS, TOKENS, SESSIONS = "reviewer", "reviewer_token", "review_session"
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
        await self.store.set(REVIEWERS, name, {"name": name, "role": role, "token_sha256": digest,
                                               "created": time.time(), "revoked": None})
        return token

    async def revoke(self, name: str, by: str | None = None) -> bool:
        """Revoke a reviewer's token; their open sessions stop working on their next request."""
        rec = await self.store.get(REVIEWERS, name)
        if rec is None or rec.get("revoked"):
            return False
        await self.store.delete(TOKENS, rec["token_sha256"])
        rec["revoked"] = {"at": time.time(), "by": by}
        await self.store.set(REVIEWERS, name, rec)
        await self.store.append("audit", [{"ts": rec["revoked"]["at"], "kind": "reviewer.revoke", "reviewer": name,
                                           "by": by}])
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

    async def _active(self, name: str) -> Reviewer | None:
        rec = await self.store.get(REVIEWERS, name)
        if rec is None or rec.get("revoked"):
            return None
        return Reviewer(rec["name"], rec["role"])

    async def open_session(self, reviewer: Reviewer) -> tuple[str, Reviewer]:
        sid = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        key = sha256(sid)
        await self.store.set(SESSIONS, key, {"name": reviewer.name, "csrf": csrf, "created": time.time()},
                             ttl=self.session_seconds)
        return sid, Reviewer(reviewer.name, reviewer.role, key, csrf)

    async def by_session(self, sid: str) -> Reviewer | None:
        key = sha256(sid)
        rec = await self.store.get(SESSIONS, key)
        if rec is None:
            return None
        reviewer = await self._active(rec["name"])  # a revoked reviewer's session dies with the token
        if reviewer is None:
            await self.store.delete(SESSIONS, key)
            return None
        reviewer.session_key, reviewer.csrf = key, rec["csrf"]
        return reviewer

    async def close_session(self, reviewer: Reviewer) -> None:
        if reviewer.session_key:
            await self.store.delete(SESSIONS, reviewer.session_key)


def csrf_ok(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))
