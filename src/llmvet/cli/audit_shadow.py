"""`llmvet audit shadow`: where a shadow (candidate) policy decided differently from the enforced one.

Reads the `kind: "shadow"` records the proxy writes with `--shadow-policy` (each carries the
candidate's action and the enforced action on the same answer) and counts, per rule of the
candidate, each enforced -> candidate change with its rate and a few example request ids.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

EXAMPLES = 3


@dataclass
class ShadowDiff:
    compared: int = 0
    differ: int = 0
    per_rule: Counter[str] = field(default_factory=Counter)
    changes: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (rule, enforced, candidate)
    examples: dict[tuple[str, str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    candidates: set[str] = field(default_factory=set)

    def to_dict(self) -> dict[str, Any]:
        return {
            "candidates": sorted(self.candidates),
            "compared": self.compared,
            "differ": self.differ,
            "rate": self.differ / self.compared if self.compared else 0.0,
            "changes": [
                {
                    "rule": rule,
                    "enforced": enforced,
                    "shadow": shadow,
                    "count": n,
                    "rate": n / self.per_rule[rule],
                    "examples": self.examples[(rule, enforced, shadow)],
                }
                for (rule, enforced, shadow), n in self.changes.most_common()
            ],
        }


def compare(records: Iterable[dict[str, Any]]) -> ShadowDiff:
    """Count the shadow records, and the ones whose action differs from the enforced action."""
    diff = ShadowDiff()
    for rec in records:
        if rec.get("kind") != "shadow":
            continue
        rule = str(rec.get("rule"))
        enforced, shadow = str(rec.get("enforced_action")), str(rec.get("action"))
        diff.compared += 1
        diff.per_rule[rule] += 1
        diff.candidates.add(f"{rec.get('policy')}@{rec.get('policy_version')}")
        if enforced == shadow:
            continue
        diff.differ += 1
        key = (rule, enforced, shadow)
        diff.changes[key] += 1
        if len(diff.examples[key]) < EXAMPLES:
            diff.examples[key].append(str(rec.get("request_id")))
    return diff


def render(diff: ShadowDiff) -> Any:
    """A rich table of the changes, titled with the totals."""
    from rich.table import Table

    d = diff.to_dict()
    title = (
        f"shadow {', '.join(d['candidates']) or '(none)'}: {d['differ']} of {d['compared']} "
        f"answers decided differently ({d['rate']:.1%})"
    )
    table = Table(title=title)
    for col in ("rule", "enforced", "shadow would", "count", "rate of rule", "examples"):
        table.add_column(col)
    for c in d["changes"]:
        table.add_row(
            c["rule"], c["enforced"], c["shadow"], str(c["count"]), f"{c['rate']:.1%}", " ".join(c["examples"])
        )
    return table
