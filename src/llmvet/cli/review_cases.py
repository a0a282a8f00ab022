"""`llmvet review export-cases --since 7d > cases.yaml`: reviewers' decisions as `policy test` cases.

Each decided review item (approved, rejected or edited by a person; timeouts are nobody's decision)
becomes cases a policy change is checked against in CI:

- rejected: the answer must still be stopped: `expect: [escalate, block]`;
- approved: a person let the answer through, so a policy may allow it, flag it, or ask again,
  but must not block it: `expect: [allow, annotate, append, reask, escalate]`;
- edited: the original like a rejected answer, the reviewer's text like an approved one.

The policy that made the decisions passes them all (it escalated every one); a changed policy fails
on the answers it would now let through against a reviewer's rejection, or block against an approval.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import yaml

from llmvet.cli.common import add_settings_flags, err, settings_from
from llmvet.records import ReviewItem

STOPPED = ["escalate", "block"]
NOT_BLOCKED = ["allow", "annotate", "append", "reask", "escalate"]
HUMAN = ("approved", "rejected", "edited")


def register(rsub: argparse._SubParsersAction) -> None:
    p = rsub.add_parser("export-cases", help="reviewers' decisions as `llmvet policy test` cases (YAML)")
    p.add_argument("--since", default="7d", help="ISO time or an age like 24h, 7d (default: 7d)")
    p.add_argument("--policy-name", help="only items escalated by this policy (its `name:`)")
    add_settings_flags(p, "store")
    p.set_defaults(run=run)


def _prompt(item: ReviewItem) -> str:
    users = [m.get("content", "") for m in item.get("conversation") or [] if m.get("role") == "user"]
    return str(users[-1]) if users else ""


def _case(item: ReviewItem, name: str, text: str, expect: list[str]) -> dict[str, Any]:
    final = item.get("decision") or {}
    case: dict[str, Any] = {"name": name, "text": text, "expect": expect}
    case["model"] = item.get("model") or "test-model"
    case["route"] = item.get("route") or "chat.completions"
    if item.get("key_label"):
        case["key"] = item["key_label"]
    if prompt := _prompt(item):
        case["prompt"] = prompt
    note = f"{final.get('outcome')} by {final.get('reviewer') or '-'}"
    case["note"] = note + (f": {final['reason']}" if final.get("reason") else "")
    return case


def cases_of(item: ReviewItem) -> list[dict[str, Any]]:
    final = item.get("decision") or {}
    outcome = final.get("outcome")
    original = str((item.get("answer") or {}).get("text") or "")
    rid = item.get("id", "?")
    if outcome == "rejected":
        return [_case(item, f"{rid} rejected", original, STOPPED)]
    if outcome == "approved":
        return [_case(item, f"{rid} approved", original, NOT_BLOCKED)]
    if outcome == "edited":
        return [
            _case(item, f"{rid} edited: original", original, STOPPED),
            _case(item, f"{rid} edited: reviewer's text", str(final.get("text") or ""), NOT_BLOCKED),
        ]
    return []


def run(args: argparse.Namespace) -> int:
    from llmvet.cli.audit_cmd import parse_time, store_unreadable
    from llmvet.review.queue import ReviewQueue
    from llmvet.store import open_store

    settings = settings_from(args, "store")
    try:
        since = parse_time(args.since)
    except ValueError as exc:
        err.print(f"llmvet: {exc}", markup=False)
        return 2

    async def go() -> list[ReviewItem]:
        store = await open_store(settings.store)
        try:
            return await ReviewQueue(store).items()
        finally:
            await store.close()

    try:
        items = asyncio.run(go())
    except Exception as exc:
        return store_unreadable(settings.store, exc)
    decided = [
        i
        for i in reversed(items)  # oldest first: a stable file from one export to the next
        if (i.get("decision") or {}).get("outcome") in HUMAN
        and (i.get("decision") or {}).get("at", 0) >= since
        and (args.policy_name is None or i.get("policy") == args.policy_name)
    ]
    cases = [c for item in decided for c in cases_of(item)]
    sys.stdout.write(f"# {len(decided)} reviewer decision(s) since {args.since}, as llmvet policy test cases\n")
    yaml.safe_dump({"cases": cases}, sys.stdout, sort_keys=False, allow_unicode=True, width=100)
    err.print(f"exported {len(cases)} case(s) from {len(decided)} decision(s)")
    return 0
