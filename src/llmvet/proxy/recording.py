"""The audit record of one vetted response, written once the response is decided."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable
from typing import Any

import orjson
from starlette.responses import Response

from llmvet import spans
from llmvet.policy.engine import Decision, ValidatorRun
from llmvet.proxy.answer import Answer
from llmvet.proxy.errors import ProxyError
from llmvet.proxy.exchange import Exchange
from llmvet.proxy.runtime import Runtime
from llmvet.records import AuditRecord

log = logging.getLogger("llmvet.proxy")


# llmvet's own answers to an upstream it could not use: audited like the upstream's own errors.
UPSTREAM_FAILURES = frozenset(
    {"upstream_unreachable", "upstream_timeout", "upstream_bad_response", "upstream_too_large"}
)


async def audit_failure(rt: Runtime, ex: Exchange, work: Awaitable[Response]) -> Response:
    """`work`'s response; an upstream failure that ends it before any response (unreachable, too slow,
    malformed, too large) gets the audit record of an upstream error, with the status the client gets."""
    try:
        return await work
    except ProxyError as exc:
        if exc.code in UPSTREAM_FAILURES:
            finish(rt, ex, Answer(exc.status, {}), None, exc.status)
        raise


def finish(
    rt: Runtime, ex: Exchange, answer: Answer, decision: Decision | None, status: int, final_action: str | None = None
) -> None:
    """Bookkeeping once the response is decided: the audit record, then the record hooks."""
    action = final_action or (decision.action if decision else "upstream_error")
    if spans.active():
        spans.set_current({"llmvet.decision": action, "llmvet.reasks": ex.reasks})  # the request span's
    if rt.audit is None or not (rt.settings.audit or rt.record_hooks):
        return
    record = audit_record(rt, ex, answer, decision, status, final_action)
    if rt.settings.audit:
        if rt.keep_text is not None and decision is not None and rt.keep_text(ex, answer, decision):
            record["text_kept"] = True
        rt.audit.record(record)
        if rt.after_finish is not None and decision is not None:
            rt.after_finish(ex, answer, decision)
    for hook in rt.record_hooks:
        try:
            hook(record)
        except Exception:
            log.exception("record hook failed (request %s)", ex.request_id)


async def record_held(rt: Runtime, ex: Exchange, answer: Answer, decision: Decision) -> None:
    """A request about to wait for a reviewer is in the audit log first, written before it waits (kind
    "escalation.held"), so a crash while it waits loses no record. The usual record (kind "response",
    the one `llmvet report` and the metrics count) is appended once it is answered: the audit log is
    append-only, so a held request has two records with its request id, told apart by their kind."""
    if rt.audit is None or not rt.settings.audit:
        return
    record = audit_record(rt, ex, answer, decision, 0, "escalate")
    record["kind"] = "escalation.held"
    await rt.audit.record_now(record)


def audit_record(
    rt: Runtime, ex: Exchange, answer: Answer, decision: Decision | None, status: int, final_action: str | None
) -> AuditRecord:
    total_ms = (time.perf_counter() - ex.started) * 1000
    record: AuditRecord = {  # a literal: calling the TypedDict copies its keyword arguments once more
        "ts": time.time(),
        "request_id": ex.request_id,
        "route": ex.wire.route,
        "model": ex.body.get("model"),
        "key": ex.key_hash,
        "key_label": ex.key_label,
        "policy": ex.policy.name,
        "policy_version": ex.policy.version,
        "rule": ex.rule.name,
        "stream": ex.stream,
        "status": status,
        "action": final_action or (decision.action if decision else "upstream_error"),
        "policy_action": decision.action if decision else None,
        "validators": [_with_meta(r) for r in decision.runs] if decision else [],
        "findings": [f.to_dict(audit=True) for f in decision.findings] if decision else [],
        "reasks": ex.reasks,
        "extra_usage": ex.extra_usage,
        "timings_ms": {
            "total": round(total_ms, 2),
            "upstream": round(ex.upstream_ms, 2),
            "validate": round(ex.validate_ms, 2),
        },
        "request_sha256": ex.body_sha256,
        "response_sha256": hashlib.sha256(answer.text.encode()).hexdigest(),
        "upstream": rt.upstream.display_url,
        "upstream_model": answer.answered_model(),  # provenance: the model that actually answered
        "response_chars": len(answer.text),  # answer length, for drift of the length mix
    }
    return record


def _with_meta(run: ValidatorRun) -> dict[str, Any]:
    """A validator run for the audit record, with the validator's own extras (usage, scores, skips)."""
    d = run.to_dict()
    if run.verdict.meta:
        # default=str: a validator's odd value must not poison the audit batch it is written in
        d["meta"] = orjson.loads(orjson.dumps(run.verdict.meta, default=str, option=orjson.OPT_NON_STR_KEYS))
    return d
