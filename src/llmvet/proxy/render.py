"""Turning a decision into the client's response: replay, rewrite, block, and escalation outcomes."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.responses import Response, StreamingResponse

from llmvet import spans
from llmvet.errors import error_response
from llmvet.extensions import Escalation, Outcome
from llmvet.policy.engine import Decision
from llmvet.proxy import sse
from llmvet.proxy.answer import Answer, json_object_or_none, snapshot, with_text
from llmvet.proxy.errors import ProxyError
from llmvet.proxy.exchange import Exchange
from llmvet.proxy.recording import finish, record_held
from llmvet.proxy.runtime import Runtime
from llmvet.proxy.wires import Wire
from llmvet.proxy.wires.base import payloads
from llmvet.text import content_text
from llmvet.validators.base import Status

POLICY_ERROR = "llmvet_policy_violation"


class Renderer:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def act(self, ex: Exchange, answer: Answer, decision: Decision) -> Response:
        action = decision.action
        if action == "escalate":
            return await self.escalate(ex, answer, decision)
        if action == "block":
            return self.block(ex, answer, decision)
        headers = {**answer.headers, **self.decision_headers(ex, decision)}
        if action == "allow" and ex.reasks == 0:
            response = self.replay(answer, headers)
        else:
            notice = ex.rule.rule.append.text if action == "append" else None
            response = self.rewrite(ex, answer, headers, self.annotation(ex, decision), notice)
        finish(self.rt, ex, answer, decision, response.status_code)
        return response

    def block(self, ex: Exchange, answer: Answer, decision: Decision, why: str | None = None) -> Response:
        settings = ex.rule.rule.block
        message = f"{settings.message} (rule {ex.rule.name!r}): {why or finding_codes(decision)}"
        headers = self.decision_headers(ex, decision) | {"x-llmvet-decision": "block"}
        response = error_response(
            settings.status,
            message,
            POLICY_ERROR,
            "blocked_by_policy",
            None,
            headers,
            extra={"llmvet": self.annotation(ex, decision) | {"decision": "block"}},
        )
        finish(self.rt, ex, answer, decision, response.status_code, final_action="block")
        return response

    def decision_headers(self, ex: Exchange, decision: Decision) -> dict[str, str]:
        headers = {
            "x-llmvet-request-id": ex.request_id,
            "x-llmvet-decision": decision.action,
            "x-llmvet-rule": ex.rule.name,
            **ex.policy_headers,
        }
        if ex.reasks:
            headers["x-llmvet-reasks"] = str(ex.reasks)
        headers.update(decision.headers)
        return headers

    def annotation(self, ex: Exchange, decision: Decision) -> dict[str, Any]:
        """The `llmvet` field the client sees: the decision and its findings, minus evidence that
        repeats what a rule caught (kept, when the policy says so, for the audit log only)."""
        out = decision.to_dict()
        out["findings"] = [client_finding(f) for f in out["findings"]]
        out["request_id"] = ex.request_id
        out["policy"] = {"name": ex.policy.name, "version": ex.policy.version}
        if ex.reasks:
            out["reasks"] = ex.reasks
        return out

    def replay(self, answer: Answer, headers: dict[str, str]) -> Response:
        """The upstream's answer exactly as it came (the common, fast path)."""
        if answer.events is None:
            return Response(answer.raw, 200, headers=headers, media_type="application/json")
        return sse_response([e.raw for e in answer.events], headers)

    def rewrite(
        self, ex: Exchange, answer: Answer, headers: dict[str, str], note: dict[str, Any], notice: str | None
    ) -> Response:
        """The answer with an `llmvet` field added (and, for `append`, the notice added to its text)."""
        if answer.events is None:
            data = dict(answer.data or {})
            if notice:
                data = ex.wire.append(data, notice)
            data["llmvet"] = note
            return Response(orjson.dumps(data), 200, headers=headers, media_type="application/json")
        payloads = ex.wire.stream_append(answer.events, notice) if notice else [e.data for e in answer.events]
        last = max((i for i, p in enumerate(payloads) if isinstance(p, dict)), default=None)
        chunks = []
        for i, p in enumerate(payloads):
            if p is None:
                continue
            if i == last:
                p = {**p, "llmvet": note}
            chunks.append(sse.encode(p, ex.wire.event_name(p)))
        return sse_response(chunks, headers)

    def upstream_error(self, ex: Exchange, answer: Answer, decision: Decision | None = None) -> Response:
        """Upstream 4xx/5xx: the client gets the upstream's own status and body, unless the error's text
        fails a rule. Then `block`, `reask` and `escalate` block (an error has no answer to ask for
        again or to hold); `annotate` and `append` add the `llmvet` field (there is no text to append to)."""
        if decision is not None and decision.action in ("block", "reask", "escalate"):
            return self.block(ex, answer, decision, f"the upstream's error: {finding_codes(decision)}")
        raw, headers = answer.raw, {**answer.headers, "x-llmvet-request-id": ex.request_id}
        if decision is not None and decision.action != "allow":
            data = json_object_or_none(answer.raw)
            if data is not None:
                raw = orjson.dumps({**data, "llmvet": self.annotation(ex, decision)})
            headers = {**answer.headers, **self.decision_headers(ex, decision)}
        finish(self.rt, ex, answer, decision, answer.status, final_action="upstream_error")
        return Response(raw, answer.status, headers=headers)

    # ---- escalations -------------------------------------------------------------------------------------
    async def escalate(self, ex: Exchange, answer: Answer, decision: Decision) -> Response:
        handler = self.rt.escalation
        if handler is None:
            return self.block(ex, answer, decision, "escalated for human review, but no review queue is configured")
        case = self.escalation_case(ex, answer, decision)
        if case.mode == "hold":
            await record_held(self.rt, ex, answer, decision)
            self.rt.held += 1
        try:
            with spans.span("llmvet review", {"llmvet.review.mode": case.mode}) as span:
                outcome = await handler.escalate(case)
                if span is not None:
                    span.set_attributes(review_attributes(outcome))
        finally:
            if case.mode == "hold":
                self.rt.held -= 1
        response = self.outcome_response(ex, answer, decision, outcome)
        finish(self.rt, ex, answer, decision, response.status_code)
        return response

    def escalation_case(self, ex: Exchange, answer: Answer, decision: Decision) -> Escalation:
        s = ex.rule.rule.escalate
        return Escalation(
            request_id=ex.request_id,
            mode=s.mode,
            timeout=s.timeout,
            on_timeout=s.on_timeout,
            policy=ex.policy.name,
            policy_version=ex.policy.version,
            rule=ex.rule.name,
            route=ex.wire.route,
            model=ex.body.get("model"),
            stream=ex.stream,
            key=ex.key_hash,
            key_label=ex.key_label,
            conversation=[
                {"role": str(m.get("role", "")), "content": content_text(m.get("content"))}
                for m in ex.wire.conversation(ex.body)
            ],
            request_sha256=hashlib.sha256(orjson.dumps(ex.body)).hexdigest(),
            answer=snapshot(answer),
            answer_text=answer.text,
            response_sha256=hashlib.sha256(answer.text.encode()).hexdigest(),
            validators=[r.to_dict() for r in decision.runs],
            findings=[f.to_dict() for f in decision.findings],
            summary=decision.summary(),
            validator_names=sorted({r.label for r in decision.runs if r.action == "escalate"}),
        )

    def outcome_response(self, ex: Exchange, answer: Answer, decision: Decision, outcome: Outcome) -> Response:
        if outcome.status == "unavailable":  # fails closed: no unreviewed answer leaves without a queue
            headers = self.decision_headers(ex, decision) | {"x-llmvet-decision": "block"}
            return error_response(
                503,
                f"escalated for human review, but the review queue is unavailable ({outcome.reason})",
                POLICY_ERROR,
                "review_unavailable",
                None,
                headers,
                extra={"llmvet": self.annotation(ex, decision)},
            )
        assert outcome.review_id is not None
        headers = {
            **answer.headers,
            **self.decision_headers(ex, decision),
            "x-llmvet-review-id": outcome.review_id,
            "x-llmvet-review-status": outcome.status,
        }
        note = self.annotation(ex, decision)
        note["review"] = review_note(outcome)
        if outcome.status == "pending":
            rid = outcome.review_id
            notice = (
                f"This answer is waiting for human review (review id {rid}). "
                f"Fetch GET /llmvet/v1/reviews/{rid} for the decision and the final answer."
            )
            return self.rewrite(ex, with_text(ex.wire, answer, notice), headers, note, None)
        action = outcome.action if outcome.status == "timeout" else None
        if outcome.status == "rejected" or action == "block":
            return self.refused(ex, decision, outcome, headers, note)
        if outcome.status == "edited" and outcome.text is not None:
            answer = with_text(ex.wire, answer, outcome.text)
        headers["x-llmvet-decision"] = "annotate" if action == "annotate" else "allow"
        if action == "allow":
            return self.replay(answer, headers)
        return self.rewrite(ex, answer, headers, note, None)

    def refused(
        self, ex: Exchange, decision: Decision, outcome: Outcome, headers: dict[str, str], note: dict[str, Any]
    ) -> Response:
        """A reviewer rejected the answer, or nobody decided and the rule's on_timeout blocks."""
        headers["x-llmvet-decision"] = "block"
        for k in [k for k in headers if k.lower() in ("content-type", "content-length")]:
            del headers[k]
        if outcome.status == "rejected":
            message = f"A reviewer rejected this answer (rule {ex.rule.name!r}): {outcome.reason}"
            code = "rejected_by_reviewer"
        else:
            message = (
                f"No reviewer decided within {ex.rule.rule.escalate.timeout:g}s "
                f"(rule {ex.rule.name!r}): {finding_codes(decision)}"
            )
            code = "review_timeout"
        return error_response(
            ex.rule.rule.block.status,
            message,
            POLICY_ERROR,
            code,
            None,
            headers,
            extra={"llmvet": note | {"decision": "block"}},
        )


AUDIT_ONLY_EVIDENCE = frozenset({"match"})  # the matched text itself: the secret a rule caught


def client_finding(finding: dict[str, Any]) -> dict[str, Any]:
    evidence = {
        k: v
        for k, v in finding.get("evidence", {}).items()
        if k not in AUDIT_ONLY_EVIDENCE and not k.startswith("audit_")
    }
    return {**finding, "evidence": evidence}


def finding_codes(decision: Decision) -> str:
    """What failed, by validator and finding code (errors with their reason): never a finding's
    message or evidence, which may quote the answer (a secret) or the policy (its patterns)."""
    parts = []
    for r in decision.runs:
        codes = sorted({f.code for f in r.verdict.findings})
        if r.verdict.status is Status.FAILED:
            parts.append(f"{r.label}: {', '.join(codes) or 'failed'}")
        elif r.verdict.status is Status.ERROR:
            parts.append(f"{r.label}: error ({r.verdict.error})")
    return "; ".join(parts) or "failed"


def review_attributes(outcome: Outcome) -> dict[str, spans.AttributeValue]:
    """A review wait's span: its id and outcome (never the reviewer's text or reason)."""
    out: dict[str, spans.AttributeValue] = {"llmvet.review.outcome": outcome.status}
    if outcome.review_id is not None:
        out["llmvet.review.id"] = outcome.review_id
    if outcome.action is not None:
        out["llmvet.review.action"] = outcome.action
    return out


def review_note(outcome: Outcome) -> dict[str, Any]:
    """The `llmvet.review` field: the review id, its status, and for a decision who and why."""
    review: dict[str, Any] = {
        "id": outcome.review_id,
        "status": outcome.status,
        "url": f"/llmvet/v1/reviews/{outcome.review_id}",
    }
    if outcome.status != "pending":
        review.update(reviewer=outcome.reviewer, reason=outcome.reason or None)
        if outcome.status == "timeout":
            review["action"] = outcome.action
    return review


def stream_broken(wire: Wire, events: list[sse.Event], failure: ProxyError) -> bytes:
    """The events that end a stream the upstream broke (cut off, malformed, too large) after some of it
    went out: no status can change any more, so every choice stops and the `llmvet` field says why."""
    note = {"decision": "error", "error": {"message": failure.message, "type": failure.type, "code": failure.code}}
    return wire.encode(wire.stream_stop(payloads(events), note))


def sse_response(chunks: list[bytes], headers: dict[str, str]) -> Response:
    async def gen() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    return StreamingResponse(gen(), 200, headers=headers, media_type="text/event-stream")
