"""`llmvet policy replay CANDIDATE.yaml --audit EXPORT.jsonl`: a candidate decides recorded answers.

Reads an `llmvet audit export` whose response records carry their kept text
(`LLMVET_AUDIT_KEEP_TEXT=sample RATE`), decides every part of each answer with the candidate, as
the proxy does (same rule selection by model, route and key label; parts combined the same way),
and prints the diff `llmvet report --shadow` prints. Nothing is asked upstream: validators that
need extra samples error and their rule's `on_error` decides, as in a shadow. Answers whose text had
secrets redacted are counted apart, not compared: the candidate would see the redacted form.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from llmvet.cli.common import err, load_policy_or_exit, open_resources
from llmvet.observe.shadow_diff import ShadowDiff
from llmvet.policy.engine import Decision, combine, evaluate
from llmvet.policy.loader import Policy
from llmvet.resources import Resources
from llmvet.validators.base import Context


def register(psub: argparse._SubParsersAction) -> None:
    replay = psub.add_parser("replay", help="re-run a candidate policy on recorded answers (an audit export)")
    replay.add_argument("candidate", type=Path)
    replay.add_argument("--audit", required=True, type=Path, help="JSON lines from `llmvet audit export`")
    replay.add_argument("--json", action="store_true", help="the diff (and the replay's counts) as one JSON object")
    replay.add_argument("--store", default=None, help="store for validators' caches (default: LLMVET_STORE or local)")
    replay.set_defaults(run=run)


@dataclass
class Replay:
    diff: ShadowDiff = field(default_factory=ShadowDiff)
    replayed: int = 0
    without_text: int = 0  # response records whose text the audit did not keep
    redacted: int = 0  # kept with secrets redacted: not compared
    seconds: float = 0.0

    def counts(self) -> dict[str, Any]:
        return {
            "replayed": self.replayed,
            "without_text": self.without_text,
            "redacted": self.redacted,
            "seconds": round(self.seconds, 3),
            "answers_per_second": round(self.replayed / self.seconds, 1) if self.seconds > 0 else None,
        }


async def decide_record(policy: Policy, rec: dict[str, Any], resources: Resources) -> dict[str, Any]:
    """The candidate's decision on one recorded answer, as a shadow record beside the live decision."""
    model, route, key = rec.get("model") or "", str(rec.get("route")), rec.get("key_label")
    rule = policy.select(key, model, route)
    decision: Decision | None = None
    if rule is not None and rule.validators:
        request: dict[str, Any] = {"model": model, "messages": []}  # the prompt is not kept: validators see none
        contexts = [
            Context(
                text=p["text"],
                request=request,
                route=route,
                model=model,
                key_label=key,
                policy=policy.name,
                request_id=str(rec.get("request_id")),
                resources=resources,
                part=p["label"],
                part_kind=p["kind"],
                choice=p["choice"],
            )
            for p in rec["text"]["parts"]
        ]
        decisions = [await evaluate(rule, ctx) for ctx in contexts]
        decision = decisions[0] if len(decisions) == 1 else combine(decisions)
    return {
        "kind": "shadow",
        "request_id": rec.get("request_id"),
        "policy": policy.name,
        "policy_version": policy.version,
        "rule": rule.name if rule is not None else "(none)",
        "action": decision.action if decision is not None else "unvetted",
        "findings": [{"code": f.code} for f in decision.findings] if decision is not None else [],
        "enforced_action": rec.get("policy_action") or rec.get("action"),
        "enforced_findings": [f.get("code") for f in rec.get("findings") or []],
    }


async def warm_up(policy: Policy, resources: Resources) -> None:
    """Validators load their models first, as the proxy's do before they serve: a first answer that
    waited for a model load would time out and be decided by `on_error`, unlike the live one."""
    for rule in policy.rules:
        for cv in rule.validators:
            await cv.instance.warm_up(resources)


async def replay(policy: Policy, lines: list[bytes], resources: Resources) -> Replay:
    await warm_up(policy, resources)
    result = Replay()
    started = time.perf_counter()
    for line in lines:
        if not line.strip():
            continue
        rec = orjson.loads(line)
        if rec.get("kind") not in (None, "response"):
            continue  # review decisions, shadow records, allowlist changes: not answers
        if not isinstance(rec.get("text"), dict):
            result.without_text += 1
            continue
        if rec["text"].get("redacted"):
            result.redacted += 1
            continue
        result.diff.add(await decide_record(policy, rec, resources))
        result.replayed += 1
    result.seconds = time.perf_counter() - started
    return result


def run(args: argparse.Namespace) -> int:
    from llmvet.cli import shadow_view

    policy = load_policy_or_exit(args.candidate)
    try:
        lines = args.audit.read_bytes().splitlines()
    except OSError as exc:
        err.print(f"llmvet: cannot read {args.audit}: {exc.strerror}", markup=False)
        return 2

    async def go() -> Replay:
        resources = await open_resources(args.store)
        try:
            return await replay(policy, lines, resources)
        finally:
            await resources.close()

    try:
        result = asyncio.run(go())
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        err.print(f"llmvet: {args.audit} is not an `llmvet audit export`: {exc}", markup=False)
        return 2
    c = result.counts()
    if args.json:
        sys.stdout.buffer.write(orjson.dumps({**result.diff.to_dict(), "replay": c}) + b"\n")
    else:
        shadow_view.show(result.diff, False, what="replay of")
    err.print(
        f"replayed {c['replayed']} answers in {c['seconds']} s ({c['answers_per_second']} answers/s); "
        f"{c['without_text']} without kept text skipped; {c['redacted']} with redacted secrets not compared",
        markup=False,
    )
    return 0
