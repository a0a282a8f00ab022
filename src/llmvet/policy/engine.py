"""The only place verdicts become actions: run a rule's validators concurrently, then decide."""

from __future__ import annotations

import asyncio
import logging
import random
import time
import types
from collections.abc import Awaitable, Collection, Coroutine, Generator
from dataclasses import dataclass, field
from typing import Any

from llmvet import spans
from llmvet.policy.loader import CompiledRule, CompiledValidator
from llmvet.policy.schema import SEVERITY
from llmvet.validators.base import ALL_PARTS, Context, Finding, Status, Verdict

log = logging.getLogger("llmvet.engine")


@dataclass(slots=True)
class ValidatorRun:
    label: str
    verdict: Verdict
    elapsed_ms: float
    action: str  # what this verdict asks for under the rule (allow when it passed or failed open)
    timed_out: bool = False

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "validator": self.label,
            "status": self.verdict.status.value,
            "risk": round(self.verdict.risk, 4),
            "action": self.action,
            "ms": round(self.elapsed_ms, 2),
        }
        if self.verdict.error:
            d["error"] = self.verdict.error
        if "cache" in self.verdict.meta:  # e.g. registry cache hits/misses, for metrics
            d["cache"] = self.verdict.meta["cache"]
        return d


@dataclass(slots=True)
class Decision:
    action: str
    rule: str | None
    runs: list[ValidatorRun] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return [f for r in self.runs for f in r.verdict.findings]

    @property
    def failed_findings(self) -> list[Finding]:
        """Findings of validators that did not pass: the ones to act on and to feed back on re-ask."""
        return [f for r in self.runs if r.verdict.status is Status.FAILED for f in r.verdict.findings]

    @property
    def headers(self) -> dict[str, str]:
        """Extra response headers validators asked for (in Verdict.meta["headers"])."""
        out: dict[str, str] = {}
        for r in self.runs:
            out.update(r.verdict.meta.get("headers", {}))
        return out

    def summary(self) -> str:
        """One line naming what failed, for error messages and logs: labels, finding codes and messages
        (which validators keep free of policy internals such as regex patterns)."""
        parts = []
        for r in self.runs:
            if r.verdict.status is Status.FAILED:
                msgs = "; ".join(f"{f.code}: {f.message}" for f in r.verdict.findings[:5]) or "failed"
                parts.append(f"{r.label}: {msgs}")
            elif r.verdict.status is Status.ERROR:
                parts.append(f"{r.label}: error ({r.verdict.error})")
        return " | ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.action,
            "rule": self.rule,
            "validators": [r.to_dict() for r in self.runs],
            "findings": [f.to_dict() for f in self.findings],
        }


ALLOW = Decision("allow", None)


async def evaluate(rule: CompiledRule, ctx: Context, only: Collection[CompiledValidator] | None = None) -> Decision:
    """Run every (sampled) validator of `rule` that reads this part of the answer (or those of
    `only`) on `ctx` concurrently, and combine their verdicts."""
    chosen = [
        v
        for v in (rule.validators if only is None else only)
        if ctx.part_kind in getattr(v.instance, "reads", ALL_PARTS)
        and (v.ref.sample_rate >= 1 or random.random() < v.ref.sample_rate)
    ]
    if not chosen:
        return Decision("allow", rule.name)
    if len(chosen) == 1:
        runs = [await _run_one(rule, chosen[0], ctx)]
    else:
        runs = list(await asyncio.gather(*(_run_one(rule, v, ctx) for v in chosen)))
    if ctx.part != "content" or ctx.choice:  # findings say where they are when it is not the obvious place
        for r in runs:
            for f in r.verdict.findings:
                f.evidence.setdefault("part", ctx.part)
                f.evidence.setdefault("choice", ctx.choice)
    action = max((r.action for r in runs), key=SEVERITY.__getitem__, default="allow")
    return Decision(action, rule.name, runs)


def combine(decisions: list[Decision]) -> Decision:
    """One decision for several alternative answers (choices): the strictest action, every finding.

    Each finding's evidence gets `choice` (its answer's index), since spans point into that answer.
    """
    runs: list[ValidatorRun] = []
    for choice, d in enumerate(decisions):
        for r in d.runs:
            for f in r.verdict.findings:
                f.evidence.setdefault("choice", choice)
            runs.append(r)
    action = max((d.action for d in decisions), key=SEVERITY.__getitem__, default="allow")
    return Decision(action, decisions[0].rule if decisions else None, runs)


async def _run_one(rule: CompiledRule, cv: CompiledValidator, ctx: Context) -> ValidatorRun:
    if not spans.active():  # tracing off: no span, and no attributes built for one
        return await _checked(rule, cv, ctx)
    with spans.span("llmvet validator", {"llmvet.validator": cv.label, "llmvet.rule": rule.name}) as span:
        run = await _checked(rule, cv, ctx)
        if span is not None:
            span.set_attributes(run_attributes(run, ctx))
    return run


async def _within(check: Awaitable[Verdict], timeout: float) -> Verdict:
    """The check's verdict, cancelled after `timeout` seconds. Most checks (a regex over a short answer)
    finish without ever suspending: the first step of the coroutine tells, and only one that suspends
    gets a timer (an `asyncio.timeout` cost about as much as the regex check itself). Its deadline
    counts from the start; time spent before the first suspension is caught by the caller's blocking
    check, as before."""
    if type(check) is not types.CoroutineType:
        async with asyncio.timeout(timeout):
            return await check
    deadline = asyncio.get_running_loop().time() + timeout
    try:
        first = check.send(None)
    except StopIteration as done:
        return done.value
    async with asyncio.timeout_at(deadline):  # unlike wait_for, no extra task per check
        return await _resume(check, first)


@types.coroutine
def _resume(check: Coroutine[Any, Any, Verdict], first: Any) -> Generator[Any, Any, Verdict]:
    """Go on awaiting a coroutine already stepped once (what `await` does, from its second step)."""
    pending = first
    while True:
        try:
            sent = yield pending
        except GeneratorExit:
            check.close()
            raise
        except BaseException as exc:  # a cancellation (the timeout's) goes into the check
            try:
                pending = check.throw(exc)
            except StopIteration as done:
                return done.value
        else:
            try:
                pending = check.send(sent)
            except StopIteration as done:
                return done.value


def run_attributes(run: ValidatorRun, ctx: Context) -> dict[str, spans.AttributeValue]:
    """What a validator span says of its run: status, outcome, finding codes and count (no messages or
    evidence: those may quote the answer)."""
    findings = run.verdict.findings
    return {
        "llmvet.part": ctx.part_kind,
        "llmvet.status": run.verdict.status.value,
        "llmvet.action": run.action,
        "llmvet.timed_out": run.timed_out,
        "llmvet.findings.count": len(findings),
        "llmvet.findings.codes": sorted({f.code for f in findings}),
    }


async def _checked(rule: CompiledRule, cv: CompiledValidator, ctx: Context) -> ValidatorRun:
    start = time.perf_counter()
    timed_out = False
    try:
        verdict = await _within(cv.instance.check(ctx), cv.ref.timeout)
        if not isinstance(verdict, Verdict):
            verdict = Verdict.errored(f"validator returned {type(verdict).__name__}, not a Verdict")
    except TimeoutError:
        timed_out = True
        verdict = Verdict.errored(f"timed out after {cv.ref.timeout:g}s")
    except Exception as exc:  # a broken validator must never take the proxy down
        verdict = Verdict.errored(f"{type(exc).__name__}: {exc}")
    elapsed = (time.perf_counter() - start) * 1000
    if not timed_out and elapsed > cv.ref.timeout * 1000:
        # A check that blocked the event loop never gave the timeout a chance to fire: its late
        # verdict does not count (CPU work belongs in ctx.resources.run_cpu, which can be timed out).
        timed_out = True
        verdict = Verdict.errored(f"timed out after {cv.ref.timeout:g}s (took {elapsed / 1000:.2f}s, blocking)")
    for finding in verdict.findings:  # which entry of the rule found it (two entries may share a validator)
        finding.id = finding.id or cv.label
    if verdict.status is Status.FAILED:
        action = cv.ref.on_fail or rule.rule.on_fail
    elif verdict.status is Status.ERROR:
        mode = cv.ref.on_error or rule.rule.on_error
        action = "block" if mode == "closed" else "allow"
        log.warning(
            "validator %s errored (rule %s, fail %s, request %s): %s",
            cv.label,
            rule.name,
            mode,
            ctx.request_id,
            verdict.error,
        )
    else:
        action = "allow"
    return ValidatorRun(cv.label, verdict, elapsed, action, timed_out)
