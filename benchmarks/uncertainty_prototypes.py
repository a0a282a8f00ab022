"""Build the prototype set for the uncertainty validator's optional embedding pass.

    python benchmarks/uncertainty_prototypes.py                 # writes src/llmvet/data/uncertainty/prototypes.en.jsonl
    python benchmarks/uncertainty_prototypes.py --exclude zz-   # leave a held-out subset out (for honest scoring)

Positives: sentences of answers labelled `present` that hold a rule-path statement. Negatives: the
first-person sentences of answers labelled `missing` that the embedding pass would look at.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from llmvet.validators.base import Context
from llmvet.validators.uncertainty import UncertaintyValidator
from llmvet.validators.uncertainty.embed import prototypes_path

ROOT = Path(__file__).resolve().parents[1]
# First-person sentences that are not uncertainty statements (advice, offers, hedges, opinions), written
# by hand to balance the negatives the dev set provides.
SEED_NEGATIVES = [
    "I'd recommend starting with the official tutorial.",
    "I think Python is the better first language for most people.",
    "I believe the simplest fix is to clear the cache and restart.",
    "I can help you draft the email if you tell me the key points.",
    "I'd suggest keeping the function small and testing it separately.",
    "I love this question — it comes up a lot.",
    "I usually put configuration in environment variables.",
    "My recommendation is to use a managed database.",
    "I'll walk you through it step by step.",
    "Let me know if you want me to expand on any of these.",
    "I'd go with the second option because it is cheaper to run.",
    "In my experience, the hardest part is keeping the habit going.",
    "I find the Pomodoro technique helpful for focus.",
    "I'd be happy to review your code if you paste it here.",
    "I've listed the steps below in the order you should do them.",
    "I prefer tabs, but consistency matters more than the choice.",
    "I hope this helps with your project.",
    "I'd start with the error message: it names the missing module.",
    "My favourite part of the city is the old harbour.",
    "I know this can feel overwhelming at first.",
    "I agree that the documentation is confusing here.",
    "I'd avoid storing passwords in plain text under any circumstances.",
    "I've simplified the example so it runs on its own.",
    "I would rename the variable to make its purpose clear.",
    "I think the main reason is that the loop never terminates.",
    "I believe most guides recommend at least eight hours of sleep.",
    "I'm glad it worked!",
    "I'd add a test for the empty-list case as well.",
    "My answer focuses on the US rules, since that's where you said you live.",
    "I used the standard library only, so there is nothing to install.",
]
DEFAULT_DATA = ROOT / "tests" / "data" / "uncertainty" / "dev.jsonl"


def build(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    v = UncertaintyValidator(UncertaintyValidator.Config())
    v.options.collect_candidates = True
    rows: dict[str, int] = {}
    for r in records:
        a = v.analyse(r["text"], r.get("prompt", ""))
        if r["statement"] == "present":
            sentences = Context(text=r["text"]).sentences
            for h in a.statements:
                if h.score < 0.5:
                    continue
                around = [s.text for s in sentences if s.span[0] <= h.start < s.span[1]]
                rows.setdefault(" ".join((around[0] if around else h.text).split()), 1)
        else:
            person = v.cues.get("backstop_person")
            for s in Context(text=r["text"]).sentences:
                if person is not None and person.search(s.text.lower()) and len(s.text) >= 12:
                    rows.setdefault(" ".join(s.text.split()), 0)
    for text in SEED_NEGATIVES:
        rows.setdefault(text, 0)
    return [{"text": t, "statement": y} for t, y in rows.items()]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--exclude", action="append", default=[], help="id prefix to leave out (repeatable)")
    ap.add_argument("--out", type=Path, default=prototypes_path("en"))
    args = ap.parse_args()
    records = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines() if line.strip()]
    records = [r for r in records if not any(r["id"].startswith(p) for p in args.exclude)]
    rows = build(records)
    args.out.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    print(f"{len(rows)} prototypes ({sum(r['statement'] for r in rows)} statements) -> {args.out}")


if __name__ == "__main__":
    main()
