"""What every part of the proxy shares for the app's life: settings, policy, upstream, store, hooks."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from llmvet.audit import AuditLog
from llmvet.config import Settings
from llmvet.extensions import Extension
from llmvet.policy.engine import Decision
from llmvet.policy.loader import Policy
from llmvet.proxy.answer import Answer
from llmvet.proxy.errors import headers_too_large
from llmvet.proxy.exchange import Exchange, policy_headers
from llmvet.proxy.upstream import Upstream, forward_request_headers
from llmvet.records import AuditRecord
from llmvet.resources import Resources

INTERNAL_HEADER = "x-llmvet-internal"  # marks llmvet's own re-asks, so they are never vetted again


@dataclass
class Runtime:
    settings: Settings
    policy: Policy
    upstream: Upstream
    resources: Resources | None = None  # set in the lifespan
    audit: AuditLog | None = None  # set in the lifespan
    record_hooks: list[Callable[[AuditRecord], None]] = field(default_factory=list)
    escalation: Extension | None = None  # the extension that handles `escalate`, if any
    # Called with each finished (exchange, answer, decision): the shadow policy, when one is set.
    after_finish: Callable[[Exchange, Answer, Decision], None] | None = None
    # Called with each recorded (exchange, answer, decision): keeps a sample of answer texts (replay).
    keep_text: Callable[[Exchange, Answer, Decision], bool] | None = None
    held: int = 0  # requests waiting for a reviewer right now (a drain need not wait for them to end)
    policy_headers: dict[str, str] = field(init=False)
    serving_since: float = field(init=False)  # when `policy` started serving (published to the store)
    policy_changed: asyncio.Event = field(default_factory=asyncio.Event)  # set by serve(): publish now

    def __post_init__(self) -> None:
        self.serve(self.policy)

    def serve(self, policy: Policy) -> None:
        """Make `policy` the one new requests start under (requests in flight keep theirs: see Exchange)."""
        same = getattr(self, "policy_headers", None) is not None and self.policy.version == policy.version
        self.policy = policy
        self.policy_headers = policy_headers(policy)
        if not same:  # a reload of an unchanged file is not a change of version
            self.serving_since = time.time()
        self.policy_changed.set()

    def check_headers(self, request: Request) -> None:
        """431 for oversized request headers, before anything is sent upstream (which would fail less clearly)."""
        limit = self.settings.max_header_bytes
        if sum(len(k) + len(v) for k, v in request.headers.raw) > limit:
            raise headers_too_large(limit)

    def key_identity(self, request: Request) -> tuple[str | None, str | None]:
        """(sha256 of the client's API key, the policy's label for it). The key itself is never kept."""
        auth = request.headers.get("authorization")
        if not auth:
            return None, None
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else auth.strip()
        digest = hashlib.sha256(token.encode()).hexdigest()
        entry = self.policy.key_entry(digest)
        return digest, entry.label if entry else None

    def upstream_headers(self, request: Request, key_hash: str | None, *, vetted: bool = True) -> Any:
        """Headers to send upstream; the policy may swap the client's key for an upstream key."""
        peer = request.client.host if request.client else None
        headers = forward_request_headers(
            request.headers, vetted=vetted, peer=peer, trusted_proxies=self.settings.trusted_proxies
        )
        entry = self.policy.key_entry(key_hash)
        if entry is not None and entry.upstream_key_env:
            headers["Authorization"] = f"Bearer {os.environ[entry.upstream_key_env]}"
        return headers
