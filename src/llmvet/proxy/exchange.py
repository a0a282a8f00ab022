"""Everything known about one vetted request while the proxy handles it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from llmvet.policy.loader import CompiledRule, Policy
from llmvet.proxy.wires import Wire


class ClientGone(Exception):
    """The client disconnected; its upstream work has been cancelled."""


@dataclass
class Exchange:
    request_id: str
    wire: Wire
    rule: CompiledRule
    body: dict[str, Any]  # the request as sent upstream (after request-side rules)
    headers: Any  # headers sent upstream
    stream: bool
    key_label: str | None
    key_hash: str | None  # 12 hex characters; never the key
    policy: Policy  # the policy it started under: a reload mid-request does not change its decision or record
    body_sha256: str = ""
    payload: bytes = b""  # the request body as sent upstream
    started: float = field(default_factory=time.perf_counter)
    upstream_ms: float = 0.0
    validate_ms: float = 0.0
    reasks: int = 0
    extra_usage: dict[str, int] = field(default_factory=dict)
    shadow: bool = False  # a candidate policy's look at an answer already sent: it never re-asks upstream

    @property
    def model(self) -> str:
        model = self.body.get("model")
        return model if isinstance(model, str) else ""

    @property
    def policy_headers(self) -> dict[str, str]:
        return policy_headers(self.policy)


def policy_headers(policy: Policy) -> dict[str, str]:
    """The header naming the exact policy text a response was decided under."""
    return {"x-llmvet-policy": f"{policy.name}@{policy.version}"}
