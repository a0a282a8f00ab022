"""Run a policy on many documents in one process: one set of resources (store, HTTP pool, caches),
checks running concurrently, and every finding marked as failing the verdict or informational."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from llmvet.cli.common import open_resources
from llmvet.cli.policy_cmd import decide_text
from llmvet.cli.scan.documents import Document
from llmvet.policy.engine import Decision
from llmvet.policy.loader import CompiledRule, Policy
from llmvet.policy.schema import SEVERITY
from llmvet.resources import Resources
from llmvet.validators.base import Finding, Status

BIG = 64 * 1024  # characters: above this, validators work off the event loop


@dataclass(slots=True)
class Located:
    """A finding with where it is and whether it fails the verdict."""

    finding: Finding
    doc: Document
    line: int
    column: int
    end_line: int
    end_column: int
    fails: bool

    def to_dict(self) -> dict[str, Any]:
        f = self.finding.to_dict()
        if self.finding.span:
            a, b = self.finding.span
            f["span"] = [self.doc.source_offset(a), self.doc.source_offset(b)]
        where: dict[str, Any] = {"line": self.line, "column": self.column}
        if self.doc.is_file:
            where["path"] = self.doc.source
        if self.doc.cell is not None:
            where["cell"] = self.doc.cell
        return {"input": self.doc.source, **f, "location": where, "fails": self.fails}


@dataclass(slots=True)
class Outcome:
    """Everything one source (file, stdin, JSONL id) produced."""

    source: str
    action: str = "allow"
    rules: set[str] = field(default_factory=set)
    findings: list[Located] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 2 if self.errors else (1 if self.action != "allow" else 0)


@dataclass(slots=True)
class Options:
    store: str | None
    route: str
    key: str | None
    model: str
    concurrency: int = 16
    offline: bool = False  # registry lookups answer from the cache only


async def scan(policy: Policy, docs: list[Document], opts: Options) -> list[Decision]:
    resources = await open_resources(opts.store)
    if opts.offline:
        go_offline(resources)
    gate = asyncio.Semaphore(opts.concurrency)
    # Validators run big texts in the CPU pool, and a check's timeout counts time spent queued there:
    # fifty windows of one file at once would time out waiting, so big documents take turns.
    big_gate = asyncio.Semaphore(1)

    async def one(doc: Document) -> Decision:
        async with big_gate if len(doc.text) > BIG else contextlib.nullcontext(), gate:
            return await decide_text(
                policy,
                doc.text,
                model=doc.model or opts.model,
                route=opts.route,
                key=opts.key,
                prompt=doc.prompt,
                resources=resources,
            )

    try:
        return list(await asyncio.gather(*(one(d) for d in docs)))
    finally:
        await resources.close()


def outcomes(
    policy: Policy, sources: list[str], docs: list[Document], decisions: list[Decision], opts: Options
) -> dict[str, Outcome]:
    """Per source: the strictest action, located and de-duplicated findings (windows overlap), errors."""
    result = {s: Outcome(s) for s in sources}
    seen: set[tuple[Any, ...]] = set()
    for doc, decision in zip(docs, decisions, strict=True):
        out = result.setdefault(doc.source, Outcome(doc.source))
        out.action = max(out.action, decision.action, key=SEVERITY.__getitem__)
        if decision.rule:
            out.rules.add(decision.rule)
        rule = policy.select(opts.key, doc.model or opts.model, opts.route)
        failing = _failing_codes(rule)
        for run in decision.runs:
            if run.verdict.status is Status.ERROR:
                where = f" (cell {doc.cell})" if doc.cell is not None else ""
                out.errors.append(f"{doc.source}{where}: {run.label} could not check: {run.verdict.error}")
            for f in run.verdict.findings:
                if f.code == "package.unverified" and "registry_unreachable" in f.evidence:
                    # the registry (or --offline) left a name unjudged: never a silent pass
                    why = f.evidence.get("error") or "registry unreachable"
                    out.errors.append(f"{doc.source}: could not judge {f.evidence.get('name')!r}: {why}")
                key = (doc.source, doc.cell, f.validator, f.code, f.span and doc.source_offset(f.span[0]), f.message)
                if key in seen:
                    continue
                seen.add(key)
                codes = failing.get(run.label)
                fails = run.verdict.status is Status.FAILED and run.action != "allow"
                fails = fails and (codes is None or f.code in codes)
                out.findings.append(_locate(f, doc, fails))
    return result


def go_offline(resources: Resources) -> None:
    """Every HTTP request of this run fails at once, so registry lookups answer from the cache (fresh,
    or stale within the validator's stale_ttl) and anything else is reported as not judged."""
    import aiohttp

    async def refuse(request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType) -> aiohttp.ClientResponse:
        raise aiohttp.ClientConnectionError(f"offline (--offline): {request.url.host} not asked, not in the cache")

    # Resources creates its session lazily; this run's is one that never connects
    resources._http = aiohttp.ClientSession(middlewares=(refuse,))


def _failing_codes(rule: CompiledRule | None) -> dict[str, set[str] | None]:
    """Validator label -> the finding codes that fail its verdict (None: all of a failed verdict's)."""
    codes: dict[str, set[str] | None] = {}
    for cv in rule.validators if rule else []:
        config = getattr(cv.instance, "config", None)
        fail_on = getattr(config, "fail_on", None)
        if isinstance(fail_on, list):
            chosen = set(fail_on)
            if getattr(config, "registry_unreachable", "") == "closed":
                chosen.add("package.unverified")
            codes[cv.label] = chosen
        else:
            codes[cv.label] = None
    return codes


def _locate(f: Finding, doc: Document, fails: bool) -> Located:
    start, end = f.span if f.span else (doc.offset, doc.offset)
    line, col = doc.locate(start)
    end_line, end_col = doc.locate(end)
    return Located(f, doc, line, col, end_line, end_col, fails)
