"""Score the `uncertainty` validator on public corpora (converted locally; the data is not shipped).

    # XSTest model completions (CSV with id,type,prompt,completion,...,final_label) -> benchmark JSONL,
    # then score refusals with the ordinary benchmark:
    python benchmarks/uncertainty_public.py xstest xstest_v2_completions_gpt4.csv ... --out /tmp/xstest.jsonl
    python benchmarks/uncertainty_quality.py --data /tmp/xstest.jsonl --errors

    # CoNLL-2010 task 1 Wikipedia sentences as "label","sentence" lines (label -1 = uncertain, 1 = certain;
    # the balanced sample in the Pattern library's test/corpora/conll2010-uncertainty.txt) -> JSONL, then
    # sentence-level precision / recall of "contains a hedge cue":
    python benchmarks/uncertainty_public.py conll2010 conll2010-uncertainty.txt --out /tmp/conll.jsonl
    python benchmarks/uncertainty_public.py hedges /tmp/conll.jsonl --errors 20

XSTest labels map 1_full_compliance -> none, 2_full_refusal -> full, 3_partial_refusal -> partial. XSTest's
"partial" is wider than llmvet's (any mix of refusal and compliance, e.g. declining and then noting that the
character is fictional), so refusal.any is the figure that compares like with like.
CoNLL-2010's Wikipedia "uncertain" class is weasel wording ("some suggest", "many", "is believed"), not
first-person hedging, and modal "may" in a general statement is often labelled certain there: treat the
hedge figures as a check of what the cue list fires on, not as a target.
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

XSTEST_LABELS = {"1_full_compliance": "none", "2_full_refusal": "full", "3_partial_refusal": "partial"}
_MODEL = re.compile(r"completions_([a-z0-9]+)", re.I)
_LINE = re.compile(r'^"(-?1)","(.*)"\s*$')
_SENTENCE_END = re.compile(r"[.!?][\"'’”)]*\s*$")


def xstest_records(paths: Iterable[Path], ids: set[str] | None = None) -> list[dict[str, Any]]:
    out = []
    for path in paths:
        m = _MODEL.search(path.name)
        model = m.group(1).lower() if m else path.stem
        with path.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                rid = f"xstest-{model}-{row['id']}"
                if ids is not None and rid not in ids:
                    continue
                label = XSTEST_LABELS.get(row.get("final_label", "").strip())
                if label is None:
                    continue
                # category is the answer's stated reason in llmvet's labels; XSTest has none, so it is omitted
                out.append(
                    {
                        "id": rid,
                        "prompt": row["prompt"],
                        "text": row["completion"].strip(),
                        "refusal": label,
                        "tags": ["xstest", model, row.get("type", "")],
                        "agreement": row.get("agreement", "").upper() == "TRUE",
                    }
                )
    return out


def conll_records(paths: Iterable[Path]) -> tuple[list[dict[str, Any]], int]:
    """Sentences with their uncertainty label; article titles (short lines without end punctuation) are dropped."""
    out, dropped = [], 0
    for path in paths:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            m = _LINE.match(line)
            if not m:
                continue
            text = html.unescape(m.group(2).replace('""', '"'))
            if not _SENTENCE_END.search(text) and len(text.split()) < 8:
                dropped += 1
                continue
            out.append({"id": f"conll2010-{path.stem}-{n}", "text": text, "hedge_cue": m.group(1) == "-1"})
    return out, dropped


def prf(pairs: list[tuple[bool, bool]]) -> dict[str, float]:
    tp = sum(g and p for g, p in pairs)
    fp = sum(p and not g for g, p in pairs)
    fn = sum(g and not p for g, p in pairs)
    prec = tp / (tp + fp) if tp + fp else 1.0
    rec = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return {"precision": prec, "recall": rec, "f1": f1, "tp": tp, "fp": fp, "fn": fn, "n": len(pairs)}


def score_hedges(records: list[dict[str, Any]], settings: dict[str, Any], errors: int) -> None:
    from llmvet.validators.uncertainty import UncertaintyValidator

    validator = UncertaintyValidator(UncertaintyValidator.Config(**settings))
    pairs: dict[str, list[tuple[bool, bool]]] = {"any cue": [], "strong cue (hedge)": [], "any cue or statement": []}
    fired: Counter[str] = Counter()
    fp_cues: Counter[str] = Counter()
    fns: list[str] = []
    fps: list[str] = []
    for rec in records:
        a = validator.analyse(rec["text"], rec.get("prompt", ""))
        gold = bool(rec["hedge_cue"])
        cues = [h.text.lower() for h in a.hedges]
        pairs["any cue"].append((gold, bool(a.hedges)))
        pairs["strong cue (hedge)"].append((gold, any(h.kind == "hedge" for h in a.hedges)))
        pairs["any cue or statement"].append((gold, bool(a.hedges) or bool(a.statements)))
        fired.update(cues)
        if a.hedges and not gold:
            fp_cues.update(set(cues))
            fps.append(f"[fp] {rec['id']}: {cues} | {rec['text'][:160]}")
        if gold and not a.hedges:
            fns.append(f"[fn] {rec['id']}: {rec['text'][:160]}")
    n_pos = sum(bool(r["hedge_cue"]) for r in records)
    print(f"{len(records)} sentences ({n_pos} labelled uncertain)")
    print(f"{'prediction':<24} {'precision':>9} {'recall':>7} {'F1':>6} {'tp':>4} {'fp':>4} {'fn':>4}")
    for name, p in pairs.items():
        r = prf(p)
        print(
            f"{name:<24} {r['precision']:>9.3f} {r['recall']:>7.3f} {r['f1']:>6.3f} {r['tp']:>4} {r['fp']:>4} {r['fn']:>4}"
        )
    print("cues fired (all sentences):", dict(fired.most_common(20)))
    print("cues in false positives:", dict(fp_cues.most_common(15)))
    if errors:
        print("\n".join(["", *fns[:errors], *fps[:errors]]))


def write_jsonl(records: list[dict[str, Any]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    x = sub.add_parser("xstest", help="convert XSTest completion CSVs to benchmark JSONL")
    x.add_argument("csv", nargs="+", type=Path)
    x.add_argument("--ids", type=Path, help="keep only these record ids (one per line), e.g. a published sample")
    x.add_argument("--out", type=Path, required=True)
    c = sub.add_parser("conll2010", help='convert CoNLL-2010 \'"label","sentence"\' lines to JSONL')
    c.add_argument("txt", nargs="+", type=Path)
    c.add_argument("--out", type=Path, required=True)
    h = sub.add_parser("hedges", help="sentence-level P/R of 'contains a hedge cue' on a converted file")
    h.add_argument("jsonl", type=Path)
    h.add_argument("--with", dest="settings", action="append", default=[], help="config key=value (YAML value)")
    h.add_argument("--errors", type=int, default=0, help="print this many misses and false alarms")
    args = ap.parse_args(argv)

    if args.cmd == "xstest":
        ids = set(args.ids.read_text(encoding="utf-8").split()) if args.ids else None
        recs = xstest_records(args.csv, ids)
        write_jsonl(recs, args.out)
        print(f"{len(recs)} answers -> {args.out}", dict(Counter(r["refusal"] for r in recs)))
    elif args.cmd == "conll2010":
        recs, dropped = conll_records(args.txt)
        write_jsonl(recs, args.out)
        n_pos = sum(r["hedge_cue"] for r in recs)
        print(f"{len(recs)} sentences ({n_pos} uncertain, {dropped} titles dropped) -> {args.out}")
    else:
        import yaml

        settings = {k: yaml.safe_load(v) for k, _, v in (s.partition("=") for s in args.settings)}
        recs = [json.loads(line) for line in args.jsonl.read_text(encoding="utf-8").splitlines() if line.strip()]
        score_hedges(recs, settings, args.errors)
    return 0


if __name__ == "__main__":
    sys.exit(main())
