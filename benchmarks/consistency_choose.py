"""Choose the default sentence score of `consistency` out of sample (issue 15), on the WikiBio dev split.

Candidates, each scoring the labelled sentences against the first N samples:
  shipped      0.5 embedding + 0.5 word overlap (the weight was set on this split: one tuned number)
  overlap      word overlap alone (no model)
  embedding    embedding alone
  unigram-max  SelfCheckGPT unigram, max -log p (add-1; no tuned number, no model)
  unigram-avg  the same, mean -log p
  unigram-max + embedding, weight w in 0..1 chosen inside each training fold (rank-normalised: one tuned number)

Repeated leave-passages-out cross-validation (8 folds x 20 repeats): in each fold the candidate with the
best non-factual AP on the training passages is chosen and scored on the held-out passages; the mean
held-out AP of that procedure, how often each candidate is chosen, and for every candidate its
held-out AP are printed, with a paired bootstrap (over passages) of each candidate against `shipped`.
Scoring time per passage is printed beside (embedding time measured on this machine).

    LLMVET_WIKIBIO=/path/selfcheck_wikibio_dev.jsonl python benchmarks/consistency_choose.py [--n 3 5 10]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import pearsonr, rankdata
from sklearn.metrics import average_precision_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from consistency_wikibio import DATA, LABEL, load, use_shipped_model

WEIGHTS = [i / 10 for i in range(11)]


def candidate_scores(rows: list[dict[str, Any]], n: int) -> tuple[dict[str, list[np.ndarray]], dict[str, float]]:
    from llmvet import embeddings
    from llmvet.validators.consistency.ngram import unigram_scores
    from llmvet.validators.consistency.scoring import score_sentences, split_sentences

    encode = embeddings.load_embedder(None, quantize=True).encode  # as shipped: int8 on CPU
    out: dict[str, list[np.ndarray]] = {
        k: [] for k in ("shipped", "overlap", "embedding", "unigram-max", "unigram-avg")
    }
    ms = {"embedding + overlap": 0.0, "unigram": 0.0}
    for row in rows:
        samples = [[s.text for s in split_sentences(t)] for t in row["samples"][:n]]
        t0 = time.perf_counter()
        sc = score_sentences(row["gpt3_sentences"], samples, encode, 0.5)
        t1 = time.perf_counter()
        ng = unigram_scores(row["gpt3_sentences"], row["gpt3_text"], row["samples"][:n])
        t2 = time.perf_counter()
        ms["embedding + overlap"] += (t1 - t0) * 1000 / len(rows)
        ms["unigram"] += (t2 - t1) * 1000 / len(rows)
        out["shipped"].append(np.array([s.score for s in sc]))
        out["overlap"].append(np.array([s.lexical for s in sc]))
        out["embedding"].append(np.array([s.semantic for s in sc]))
        out["unigram-max"].append(np.array([s.max_nll for s in ng]))
        out["unigram-avg"].append(np.array([s.mean_nll for s in ng]))
    return out, ms


def ap(scores: list[np.ndarray], labels: list[np.ndarray], idx: np.ndarray) -> float:
    s = np.concatenate([scores[i] for i in idx])
    y = np.concatenate([labels[i] for i in idx])
    return 100 * average_precision_score(y > 0, s)


def pearson(scores: list[np.ndarray], labels: list[np.ndarray], idx: np.ndarray) -> float:
    return 100 * float(pearsonr([scores[i].mean() for i in idx], [labels[i].mean() for i in idx])[0])


def mix(a: list[np.ndarray], b: list[np.ndarray], w: float, idx: np.ndarray) -> list[np.ndarray]:
    """w * rank(a) + (1 - w) * rank(b), ranks taken over the given passages' sentences (no scale to fit)."""
    sizes = [len(a[i]) for i in idx]
    ra = rankdata(np.concatenate([a[i] for i in idx])) / sum(sizes)
    rb = rankdata(np.concatenate([b[i] for i in idx])) / sum(sizes)
    parts = np.split(w * ra + (1 - w) * rb, np.cumsum(sizes)[:-1])
    full: list[np.ndarray] = [np.zeros(0)] * len(a)
    for i, p in zip(idx, parts, strict=True):
        full[i] = p
    return full


def cross_validate(cands: dict[str, list[np.ndarray]], labels: list[np.ndarray], folds: int, repeats: int) -> None:
    rng = np.random.default_rng(0)
    n = len(labels)
    held: dict[str, list[float]] = {k: [] for k in [*cands, "unigram-max + embedding (w in fold)", "chosen"]}
    chosen: dict[str, int] = {}
    weights: list[float] = []
    for _ in range(repeats):
        order = rng.permutation(n)
        for f in range(folds):
            test = order[f::folds]
            train = np.setdiff1d(order, test)
            best_w = max(
                WEIGHTS, key=lambda w: ap(mix(cands["unigram-max"], cands["embedding"], w, train), labels, train)
            )
            weights.append(best_w)
            mixed_test = mix(cands["unigram-max"], cands["embedding"], best_w, test)
            train_ap = {k: ap(v, labels, train) for k, v in cands.items()}
            train_ap["unigram-max + embedding (w in fold)"] = ap(
                mix(cands["unigram-max"], cands["embedding"], best_w, train), labels, train
            )
            pick = max(train_ap, key=lambda k: train_ap[k])
            chosen[pick] = chosen.get(pick, 0) + 1
            for k, v in cands.items():
                held[k].append(ap(v, labels, test))
            held["unigram-max + embedding (w in fold)"].append(ap(mixed_test, labels, test))
            held["chosen"].append(held[pick][-1])
    print(f"  held-out non-factual AP, mean over {folds} folds x {repeats} repeats (sd over folds):")
    for k, v in held.items():
        print(f"    {k:<38} {np.mean(v):5.1f}  (sd {np.std(v):4.1f})")
    print(f"  chosen in training folds: {chosen}; weight of unigram-max in the mix: median {np.median(weights):.1f}")


def paired(cands: dict[str, list[np.ndarray]], labels: list[np.ndarray], boot: int) -> None:
    rng = np.random.default_rng(1)
    n = len(labels)
    all_idx = np.arange(n)
    base = "shipped"
    print("  on all passages (nothing fitted except the shipped weight), 95% CI by bootstrap over passages:")
    for k in cands:
        diffs, aps, prs = [], [], []
        for _ in range(boot):
            idx = rng.integers(0, n, n)
            a, b = ap(cands[k], labels, idx), ap(cands[base], labels, idx)
            diffs.append(a - b)
            aps.append(a)
            prs.append(pearson(cands[k], labels, idx))
        lo, hi = np.percentile(diffs, [2.5, 97.5])
        alo, ahi = np.percentile(aps, [2.5, 97.5])
        plo, phi = np.percentile(prs, [2.5, 97.5])
        print(
            f"    {k:<14} AP {ap(cands[k], labels, all_idx):5.1f} ({alo:4.1f}–{ahi:4.1f})  "
            f"Pearson {pearson(cands[k], labels, all_idx):5.1f} ({plo:5.1f}–{phi:5.1f})  "
            f"AP − shipped {np.mean(diffs):+5.1f} ({lo:+5.1f} to {hi:+5.1f})"
        )


def main() -> None:
    ap_ = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap_.add_argument("--data", default=str(DATA))
    ap_.add_argument("--n", type=int, nargs="+", default=[3, 5, 10])
    ap_.add_argument("--folds", type=int, default=8)
    ap_.add_argument("--repeats", type=int, default=20)
    ap_.add_argument("--boot", type=int, default=1000)
    args = ap_.parse_args()
    use_shipped_model()
    rows = load(Path(args.data))
    labels = [np.array([LABEL[a] for a in r["annotation"]]) for r in rows]
    for n in args.n:
        cands, ms = candidate_scores(rows, n)
        print(
            f"\nN={n}: {len(rows)} passages; scoring ms per passage: "
            + ", ".join(f"{k} {v:.1f}" for k, v in ms.items())
        )
        paired(cands, labels, args.boot)
        cross_validate(cands, labels, args.folds, args.repeats)


if __name__ == "__main__":
    main()
