"""Where a candidate policy decided differently from the enforced one, per rule and finding code.

Input: records that carry both decisions on the same answer — the proxy's `kind: "shadow"` audit
records (the candidate's `action` and `findings`, the enforced `enforced_action` and
`enforced_findings`), or the ones `llmvet policy replay` builds from an audit export. Each change is
named from the candidate's side (would block, would allow, would escalate, would annotate, ...) and
counted under every finding code that explains it: the candidate's codes when it acts, the enforced
policy's codes when the candidate lets the answer through. Rates are of the rule's compared answers.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

from llmvet.store import keys
from llmvet.store.base import Store

EXAMPLES = 3
NO_FINDING = "(no finding)"
LETS_THROUGH = ("allow", "unvetted")  # the candidate would not act on the answer


def change_name(shadow: str) -> str:
    """The candidate's side of a change: "would block", "would allow", "would not vet", ..."""
    return "would not vet" if shadow == "unvetted" else f"would {shadow}"


def _codes(findings: Iterable[Any]) -> list[str]:
    """Distinct finding codes, in order; findings are dicts (audit form) or bare codes."""
    seen: dict[str, None] = {}
    for f in findings or ():
        code = f.get("code") if isinstance(f, dict) else f
        if code:
            seen[str(code)] = None
    return list(seen) or [NO_FINDING]


Key = tuple[str, str, str, str]  # (rule, finding code, enforced action, candidate action)


@dataclass
class ShadowDiff:
    compared: int = 0
    differ: int = 0
    per_rule: Counter[str] = field(default_factory=Counter)
    changes: Counter[Key] = field(default_factory=Counter)
    examples: dict[Key, list[str]] = field(default_factory=lambda: defaultdict(list))
    candidates: set[str] = field(default_factory=set)

    def add(self, rec: dict[str, Any]) -> None:
        rule = str(rec.get("rule"))
        enforced, shadow = str(rec.get("enforced_action")), str(rec.get("action"))
        self.compared += 1
        self.per_rule[rule] += 1
        self.candidates.add(f"{rec.get('policy')}@{rec.get('policy_version')}")
        if enforced == shadow:
            return
        self.differ += 1
        # Would allow: what the enforced policy acted on explains it; otherwise what the candidate found.
        why = rec.get("enforced_findings") if shadow in LETS_THROUGH else rec.get("findings")
        for code in _codes(why or ()):
            key = (rule, code, enforced, shadow)
            self.changes[key] += 1
            if len(self.examples[key]) < EXAMPLES:
                self.examples[key].append(str(rec.get("request_id")))

    def to_dict(self) -> dict[str, Any]:
        return {
            "candidates": sorted(self.candidates),
            "compared": self.compared,
            "differ": self.differ,
            "rate": self.differ / self.compared if self.compared else 0.0,
            "changes": [
                {
                    "rule": rule,
                    "code": code,
                    "change": change_name(shadow),
                    "enforced": enforced,
                    "shadow": shadow,
                    "count": n,
                    "rate": n / self.per_rule[rule],
                    "examples": self.examples[(rule, code, enforced, shadow)],
                }
                for (rule, code, enforced, shadow), n in sorted(self.changes.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
        }


def compare(records: Iterable[dict[str, Any]]) -> ShadowDiff:
    """The diff of the shadow records among `records` (other kinds are skipped)."""
    diff = ShadowDiff()
    for rec in records:
        if rec.get("kind") == "shadow":
            diff.add(rec)
    return diff


async def audit_records(store: Store, since: float = 0.0, kind: str | None = None) -> AsyncIterator[dict[str, Any]]:
    """Audit records from `since` on, oldest first (the stream has no time index: this scans it)."""
    after: str | None = None
    while True:
        batch = await store.read(keys.AUDIT, after, 1000)
        if not batch:
            return
        for _, rec in batch:
            if rec.get("ts", 0) >= since and (kind is None or rec.get("kind", "response") == kind):
                yield rec
        after = batch[-1][0]


async def read_diff(store: Store, since: float) -> ShadowDiff:
    """The diff of the shadow records written since `since`."""
    diff = ShadowDiff()
    async for rec in audit_records(store, since, "shadow"):
        diff.add(rec)
    return diff
