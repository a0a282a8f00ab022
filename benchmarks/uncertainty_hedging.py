"""Hedging quality: hedges that weaken a claim, not idioms, politeness formulas or frequency adverbs (issue 15).

    python benchmarks/uncertainty_hedging.py                        # own development data: q1, q2, q4
    python benchmarks/uncertainty_hedging.py --compare-src /tmp/main/src   # and the code at another checkout
    python benchmarks/uncertainty_hedging.py --data tests/data/uncertainty/sealed-q5.jsonl --no-cv

Answer level: is the answer hedged at all (`hedging` light or heavy)? Precision, recall and F1 with 95%
percentile bootstrap intervals over answers. Span level (records with `hedge_spans`, see
tests/data/uncertainty/README.md): a reported hedge cue is right when it overlaps a span labelled `hedge`;
cues on spans labelled `statement` are left out (the statement pass owns them); recall is the share of
`hedge` spans that some cue overlaps. Wrong cues are counted by the kind of span they fall on (polite,
idiom, root, frequency, unlabelled).

Cross-validation (`--cv`, on by default): the numeric settings (`hedge_frequency_weight`,
`hedge_light_min`) are chosen on four fifths of the answers by answer-level F1 and scored on the fifth,
repeated over reshuffles; the out-of-fold figures say what the choice is worth on answers it did not see.
`--compare-src DIR` scores the code at DIR (e.g. the main branch's `src`, unpacked with `git archive`) on the
same answers in a subprocess and prints the paired difference.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "uncertainty"
DEFAULT_DATA = [DATA / "quality-q1.jsonl", DATA / "quality-q2.jsonl", DATA / "quality-q4.jsonl"]
VARIANTS: dict[str, dict[str, float]] = {
    "frequency 0, light 0.5": {"hedge_frequency_weight": 0.0, "hedge_light_min": 0.5},
    "frequency 0, light 1.0": {"hedge_frequency_weight": 0.0, "hedge_light_min": 1.0},
    "frequency 0.5, light 0.5": {"hedge_frequency_weight": 0.5, "hedge_light_min": 0.5},
    "frequency 0.5, light 1.0": {"hedge_frequency_weight": 0.5, "hedge_light_min": 1.0},
}
Prediction = dict[str, Any]  # {"hedged": bool, "cues": [[start, end, text], ...]}


def load(paths: Sequence[Path]) -> list[dict[str, Any]]:
    rows = [json.loads(ln) for p in paths for ln in p.read_text(encoding="utf-8").splitlines() if ln.strip()]
    return [r for r in rows if "hedging" in r]


def predict(records: Sequence[dict[str, Any]], settings: dict[str, Any]) -> list[Prediction]:
    from llmvet.validators.uncertainty import UncertaintyValidator

    validator = UncertaintyValidator(UncertaintyValidator.Config(embeddings=False, **settings))
    out = []
    for r in records:
        a = validator.analyse(r["text"], r.get("prompt", ""))
        out.append({"hedged": a.hedge_level != "none", "cues": [[h.start, h.end, h.text] for h in a.hedges]})
    return out


def answer_prf(gold: Sequence[bool], pred: Sequence[bool]) -> tuple[float, float, float]:
    tp = sum(g and p for g, p in zip(gold, pred, strict=True))
    fp = sum(p and not g for g, p in zip(gold, pred, strict=True))
    fn = sum(g and not p for g, p in zip(gold, pred, strict=True))
    prec = tp / (tp + fp) if tp + fp else 1.0
    rec = tp / (tp + fn) if tp + fn else 1.0
    return prec, rec, 2 * prec * rec / (prec + rec) if prec + rec else 0.0


def span_counts(record: dict[str, Any], pred: Prediction) -> dict[str, int]:
    """Right and wrong cues (wrong ones by the kind of span they fall on), hedge spans found and missed."""
    spans = record.get("hedge_spans", [])
    c: Counter[str] = Counter()
    for a, b, _ in pred["cues"]:
        kinds = {s["kind"] for s in spans if s["start"] < b and a < s["end"]}
        if "hedge" in kinds:
            c["right"] += 1
        elif "statement" not in kinds:
            c["wrong"] += 1
            c["wrong:" + (min(kinds) if kinds else "unlabelled")] += 1
    for s in spans:
        if s["kind"] == "hedge":
            c["found" if any(a < s["end"] and s["start"] < b for a, b, _ in pred["cues"]) else "missed"] += 1
    return dict(c)


def span_pr(counts: Sequence[dict[str, int]]) -> tuple[float, float]:
    right, wrong = sum(c.get("right", 0) for c in counts), sum(c.get("wrong", 0) for c in counts)
    found, missed = sum(c.get("found", 0) for c in counts), sum(c.get("missed", 0) for c in counts)
    return right / max(1, right + wrong), found / max(1, found + missed)


def bootstrap(
    n: int, stat: Callable[[list[int]], float], rounds: int = 2000, seed: int = 15
) -> tuple[float, float, float]:
    """The statistic on all items and its 95% percentile interval over resampled item indices."""
    rng = random.Random(seed)
    idx = list(range(n))
    draws = sorted(stat([rng.choice(idx) for _ in idx]) for _ in range(rounds))
    return stat(idx), draws[int(0.025 * rounds)], draws[int(0.975 * rounds) - 1]


def report(name: str, records: Sequence[dict[str, Any]], preds: Sequence[Prediction]) -> None:
    gold = [r["hedging"] != "none" for r in records]
    hedged = [p["hedged"] for p in preds]
    n = len(records)
    cis = [
        bootstrap(n, lambda ix, k=k: answer_prf([gold[i] for i in ix], [hedged[i] for i in ix])[k]) for k in range(3)
    ]
    print(
        f"{name}\n  answers hedged? P {_ci(cis[0])}  R {_ci(cis[1])}  F1 {_ci(cis[2])}  ({sum(hedged)} of {n} flagged)"
    )
    spanned = [i for i, r in enumerate(records) if "hedge_spans" in r]
    if spanned:
        counts = [span_counts(records[i], preds[i]) for i in spanned]
        sp = bootstrap(len(counts), lambda ix: span_pr([counts[i] for i in ix])[0])
        sr = bootstrap(len(counts), lambda ix: span_pr([counts[i] for i in ix])[1])
        wrong: Counter[str] = Counter()
        for c in counts:
            wrong.update({k[6:]: v for k, v in c.items() if k.startswith("wrong:")})
        print(f"  cues ({len(spanned)} answers with spans): P {_ci(sp)}  R {_ci(sr)}  wrong cues on: {dict(wrong)}")


def paired(records: Sequence[dict[str, Any]], new: Sequence[Prediction], old: Sequence[Prediction]) -> None:
    gold = [r["hedging"] != "none" for r in records]

    def diff(k: int) -> Callable[[list[int]], float]:
        def stat(ix: list[int]) -> float:
            g = [gold[i] for i in ix]
            return answer_prf(g, [new[i]["hedged"] for i in ix])[k] - answer_prf(g, [old[i]["hedged"] for i in ix])[k]

        return stat

    names = ("precision", "recall", "F1")
    print(
        "  paired difference (this code - compared code): "
        + ", ".join(f"{names[k]} {_ci(bootstrap(len(records), diff(k)), signed=True)}" for k in range(3))
    )


def cross_validate(records: Sequence[dict[str, Any]], repeats: int, folds: int = 5) -> None:
    """Choose the variant on k-1 folds by answer-level F1, score it on the held-out fold."""
    gold = [r["hedging"] != "none" for r in records]
    preds = {name: predict(records, s) for name, s in VARIANTS.items()}
    chosen: Counter[str] = Counter()
    scores: list[tuple[float, float, float]] = []
    rng = random.Random(15)
    for _ in range(repeats):
        order = list(range(len(records)))
        rng.shuffle(order)
        held_g: list[bool] = []
        held_p: list[bool] = []
        for f in range(folds):
            test = order[f::folds]
            train = [i for i in order if i not in set(test)]
            best = max(
                VARIANTS, key=lambda v: answer_prf([gold[i] for i in train], [preds[v][i]["hedged"] for i in train])[2]
            )
            chosen[best] += 1
            held_g += [gold[i] for i in test]
            held_p += [preds[best][i]["hedged"] for i in test]
        scores.append(answer_prf(held_g, held_p))
    mean = [sum(s[k] for s in scores) / len(scores) for k in range(3)]
    lo = [sorted(s[k] for s in scores)[int(0.025 * len(scores))] for k in range(3)]
    hi = [sorted(s[k] for s in scores)[int(0.975 * len(scores)) - 1] for k in range(3)]
    print(f"cross-validation ({folds} folds x {repeats} reshuffles, chosen by F1 on the other folds):")
    print(
        "  out-of-fold "
        + "  ".join(
            f"{n} {m:.3f} ({a:.3f}-{b:.3f} over reshuffles)"
            for n, m, a, b in zip(("P", "R", "F1"), mean, lo, hi, strict=True)
        )
    )
    print(f"  chosen: {dict(chosen)}")
    for name in VARIANTS:
        p, r, f1 = answer_prf(gold, [x["hedged"] for x in preds[name]])
        print(f"  all answers, {name:<26} P {p:.3f}  R {r:.3f}  F1 {f1:.3f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, nargs="+", default=DEFAULT_DATA)
    ap.add_argument("--no-cv", dest="cv", action="store_false")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--compare-src", type=Path, help="score the llmvet package under this src directory too")
    ap.add_argument("--settings", default="{}", help="JSON config for this code's run (default: the defaults)")
    ap.add_argument("--emit", action="store_true", help=argparse.SUPPRESS)  # predictions as JSON (compare runs)
    args = ap.parse_args(argv)
    records = load(args.data)
    preds = predict(records, json.loads(args.settings))
    if args.emit:
        json.dump(preds, sys.stdout)
        return 0
    print(f"{len(records)} answers from {', '.join(p.name for p in args.data)}")
    report("this code, default settings" if args.settings == "{}" else f"this code, {args.settings}", records, preds)
    if args.compare_src:
        old = _predictions_from(args.compare_src, args.data)
        report(f"code at {args.compare_src}, its default settings", records, old)
        paired(records, preds, old)
    if args.cv:
        cross_validate(records, args.repeats)
    return 0


def _predictions_from(src: Path, data: Sequence[Path]) -> list[Prediction]:
    cmd = [sys.executable, __file__, "--emit", "--no-cv", "--data", *map(str, data)]
    done = subprocess.run(cmd, env={"PYTHONPATH": str(src.resolve())}, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def _ci(v: tuple[float, float, float], signed: bool = False) -> str:
    f = "{:+.3f}" if signed else "{:.3f}"
    return (
        f"{f.format(v[0])} ({f.format(v[1])}-{f.format(v[2])})"
        if not signed
        else f"{f.format(v[0])} ({f.format(v[1])} to {f.format(v[2])})"
    )


if __name__ == "__main__":
    raise SystemExit(main())
