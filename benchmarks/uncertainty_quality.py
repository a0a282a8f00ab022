"""Quality of the `uncertainty` validator on a labelled set: precision / recall / F1 per finding.

    python benchmarks/uncertainty_quality.py                       # tests/data/uncertainty/dev.jsonl
    python benchmarks/uncertainty_quality.py --data other.jsonl --errors
    python benchmarks/uncertainty_quality.py --with filler_counts=true --errors
    python benchmarks/uncertainty_quality.py --embeddings --ids zz- --prototypes /tmp/protos-without-zz.jsonl
      (build that file with benchmarks/uncertainty_prototypes.py --exclude zz- --out ...; the shipped
       prototypes come from the whole dev set, so scoring the dev set with them is not held out)

Each JSONL record: {"id", "prompt", "text", "statement": present|missing, "hedging": none|light|heavy,
"refusal": none|partial|full, "category": null|safety|capability|policy|deflection|unspecified}.
Missing label keys are skipped for that finding, so refusal-only or hedge-only corpora work too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from llmvet.validators.uncertainty import UncertaintyValidator

DEFAULT_DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "uncertainty" / "dev.jsonl"


def prf(pairs: list[tuple[bool, bool]]) -> dict[str, float]:
    tp = sum(1 for gold, pred in pairs if gold and pred)
    fp = sum(1 for gold, pred in pairs if not gold and pred)
    fn = sum(1 for gold, pred in pairs if gold and not pred)
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f, "tp": tp, "fp": fp, "fn": fn, "n": len(pairs)}


def evaluate(
    records: list[dict[str, Any]], validator: UncertaintyValidator, analyses: list[Any] | None = None
) -> tuple[dict[str, Any], list[str]]:
    pairs: dict[str, list[tuple[bool, bool]]] = {
        k: []
        for k in (
            "statement.present",
            "statement.missing",
            "hedging.heavy",
            "hedging.any",
            "refusal.any",
            "refusal.full",
            "refusal.partial",
        )
    }
    cat_total = cat_ok = 0
    confusion: Counter[tuple[str, str]] = Counter()
    errors: list[str] = []
    for i, rec in enumerate(records):
        a = analyses[i] if analyses is not None else validator.analyse(rec["text"], rec.get("prompt", ""))
        rid = rec.get("id", "?")
        if "statement" in rec:
            gold = rec["statement"] == "present"
            pred = a.best_statement is not None
            pairs["statement.present"].append((gold, pred))
            pairs["statement.missing"].append((not gold, not pred))
            if gold != pred:
                found = [(h.kind, h.text) for h in a.statements]
                errors.append(
                    f"[statement] {rid}: gold={rec['statement']} pred={'present' if pred else 'missing'} {found}"
                )
        if "hedging" in rec:
            gold_h = rec["hedging"]
            pairs["hedging.heavy"].append((gold_h == "heavy", a.hedge_level == "heavy"))
            pairs["hedging.any"].append((gold_h != "none", a.hedge_level != "none"))
            if (gold_h == "heavy") != (a.hedge_level == "heavy"):
                cues = [h.text for h in a.hedges]
                errors.append(
                    f"[hedging] {rid}: gold={gold_h} pred={a.hedge_level} density={a.hedge_density:.1f} {cues}"
                )
        if "refusal" in rec:
            gold_r = rec["refusal"]
            pairs["refusal.any"].append((gold_r != "none", a.refusal_level != "none"))
            pairs["refusal.full"].append((gold_r == "full", a.refusal_level == "full"))
            pairs["refusal.partial"].append((gold_r == "partial", a.refusal_level == "partial"))
            if gold_r != a.refusal_level:
                cues = [(h.kind, h.text) for h in a.refusals]
                errors.append(
                    f"[refusal] {rid}: gold={gold_r} pred={a.refusal_level} words={a.substantive_words} {cues}"
                )
            if gold_r != "none" and a.refusal_level != "none" and rec.get("category"):
                cat_total += 1
                confusion[(rec["category"], a.refusal_category or "-")] += 1
                if rec["category"] == a.refusal_category:
                    cat_ok += 1
                else:
                    errors.append(f"[category] {rid}: gold={rec['category']} pred={a.refusal_category}")
    results: dict[str, Any] = {k: prf(v) for k, v in pairs.items() if v}
    results["refusal.category_accuracy"] = {"accuracy": cat_ok / cat_total if cat_total else 1.0, "n": cat_total}
    results["refusal.category_confusion"] = {f"{g}->{p}": n for (g, p), n in sorted(confusion.items())}
    return results, errors


async def with_embeddings(records: list[dict[str, Any]], validator: UncertaintyValidator) -> list[Any]:
    """Rule analysis plus the embedding pass, through real shared Resources (as in the proxy)."""
    import tempfile

    from llmvet.resources import Resources
    from llmvet.store import open_store
    from llmvet.validators.base import Context

    with tempfile.TemporaryDirectory() as tmp:
        resources = Resources(await open_store(f"sqlite:///{tmp}/bench.db"))
        try:
            out = []
            for rec in records:
                a = validator.analyse(rec["text"], rec.get("prompt", ""))
                if a.best_statement is None and a.candidates and not validator._exemption(a):
                    ctx = Context(text=rec["text"], resources=resources)
                    info = await validator._embedding_pass(ctx, a)
                    # The pass fails open in the proxy; here a silent fallback would report rule figures
                    # as embedding figures (set LLMVET_EMBEDDING_MODEL to a local copy when offline).
                    if not isinstance(info.get("embedding"), dict):
                        raise SystemExit(f"embedding pass did not run: {info.get('embedding')}")
                out.append(a)
            return out
        finally:
            await resources.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--ids", default="", help="only records whose id starts with this prefix")
    ap.add_argument("--with", dest="settings", action="append", default=[], help="config key=value (YAML value)")
    ap.add_argument("--errors", action="store_true", help="print every misclassified record")
    ap.add_argument("--json", action="store_true", help="print results as JSON")
    ap.add_argument("--embeddings", action="store_true", help="run the optional embedding pass too")
    ap.add_argument("--prototypes", default=None, help="prototype JSONL for the embedding pass (replaces the head)")
    ap.add_argument("--head", default=None, help="statement classifier JSON (benchmarks/uncertainty_train.py)")
    args = ap.parse_args(argv)

    settings = {k: yaml.safe_load(v) for k, _, v in (s.partition("=") for s in args.settings)}
    if args.embeddings:
        settings.update(embeddings=True, prototype_file=args.prototypes, statement_head=args.head)
    validator = UncertaintyValidator(UncertaintyValidator.Config(**settings))
    records = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines() if line.strip()]
    records = [r for r in records if str(r.get("id", "")).startswith(args.ids)]
    analyses = asyncio.run(with_embeddings(records, validator)) if args.embeddings else None
    results, errors = evaluate(records, validator, analyses)

    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"{len(records)} answers from {args.data}")
        print(f"{'finding':<20} {'precision':>9} {'recall':>7} {'F1':>6} {'tp':>4} {'fp':>4} {'fn':>4} {'n':>5}")
        for name, r in results.items():
            if "precision" in r:
                print(
                    f"{name:<20} {r['precision']:>9.3f} {r['recall']:>7.3f} {r['f1']:>6.3f} "
                    f"{r['tp']:>4} {r['fp']:>4} {r['fn']:>4} {r['n']:>5}"
                )
        cat = results["refusal.category_accuracy"]
        print(f"refusal category accuracy (on detected refusals): {cat['accuracy']:.3f} (n={cat['n']})")
        if results["refusal.category_confusion"]:
            print("category gold->predicted:", results["refusal.category_confusion"])
    if args.errors:
        print("\n".join(["", *errors]) if errors else "\nno errors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
