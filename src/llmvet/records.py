"""Typed shapes of the records that cross packages: audit records and review queue items.

They stay plain dicts at run time (the store serialises them as they are, and the request path pays
nothing to build them), but every reader and writer names the same fields through these types.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

AuditKind = Literal[
    "response",
    "escalation.held",
    "shadow",
    "review",
    "allowlist.add",
    "allowlist.revert",
    "reviewer.revoke",
    "drift_alert",
]


class Timings(TypedDict, total=False):
    total: float
    upstream: float
    validate: float
    in_queue: float


class AuditRecord(TypedDict, total=False):
    """One line of the audit stream. `kind` is absent on vetted responses (the common case)."""

    ts: float
    audit_id: str  # `<journal token>-<seq>`, unique; set by the audit journal (absent when it is off)
    kind: str
    request_id: str
    route: str
    model: str | None
    key: str | None  # 12-hex hash of the client's API key, never the key
    key_label: str | None
    policy: str
    policy_version: str
    rule: str
    stream: bool
    status: int
    action: str  # what the client got: allow, annotate, append, block, escalate, upstream_error; review outcomes
    policy_action: str | None  # what the policy decided (differs when e.g. a stream was already sent)
    validators: list[dict[str, Any]]  # one run per validator: label, status, risk, ms, meta
    findings: list[dict[str, Any]]
    reasks: int
    extra_usage: dict[str, int]
    timings_ms: Timings
    request_sha256: str
    response_sha256: str
    final_response_sha256: str | None
    upstream: str
    upstream_model: str | None  # provenance: the model the upstream says answered
    response_chars: int
    text_kept: bool  # the answer's text is kept beside the record (LLMVET_AUDIT_KEEP_TEXT), for replay
    enforced_action: str  # shadow records: what the enforced policy decided on the same answer
    enforced_findings: list[str]  # shadow records: the enforced policy's finding codes on it
    # review decisions
    review_id: str | None
    mode: str
    reviewer: str | None
    reason: str | None
    # allowlist and account changes
    package: str
    ecosystem: str
    added_by: str
    by: str | None  # who revoked a reviewer's token
    # drift alerts carry their own fields (group, dimension, psi, ...)


ReviewOutcome = Literal["approved", "edited", "rejected", "timeout"]


class ReviewFinal(TypedDict, total=False):
    """The one outcome of a review item (a reviewer's decision or the held request's timeout)."""

    outcome: ReviewOutcome
    reviewer: str | None
    reason: str
    at: float
    text: str  # edited answers only
    action: str  # timeouts only: the rule's on_timeout action


class ReviewItem(TypedDict, total=False):
    """An escalated answer in the review queue."""

    id: str
    created: float
    status: str  # pending, or the outcome once decided
    request_id: str
    mode: Literal["hold", "defer"]
    timeout: float
    on_timeout: str
    deadline: float
    policy: str
    policy_version: str
    rule: str
    route: str
    model: str | None
    stream: bool
    key: str | None
    key_label: str | None
    conversation: list[dict[str, str]]
    request_sha256: str
    answer: dict[str, Any]  # the held upstream answer, snapshotted (see llmvet.extensions.AnswerSnapshot)
    response_sha256: str
    validators: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    summary: str
    validator_names: list[str]
    decision: ReviewFinal
    lease: dict[str, Any] | None
    client_gone: float | None
    handed_over: float  # a held item whose replica shut down: its client got "pending" (mode is now defer)
