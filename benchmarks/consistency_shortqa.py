"""`consistency` on short factual answers (issue 20): AUROC by mode and N, against string agreement and length.

Replays benchmarks/data/consistency_shortqa/{dev,sealed}.jsonl (written by consistency_shortqa_data.py)
through ConsistencyValidator.check with a scripted re-ask (the documented seam), default settings. For each mode (samples; paraphrase with k = N restatements, one answer
each) and N in 3/5/10 it prints, with bootstrap 95% intervals over questions:
  - AUROC of wrong answers for: the contradiction share, the mean sentence score (the word/embedding
    score), the two combined as the verdict combines them (max), and the verdict itself (failed or not);
  - the ceiling of any consistency method on this data: the share of samples whose (hidden) fact differs;
  - the baselines on the same data: 1 - exact string agreement of the answer with the samples, 1 - soft
    agreement (mean token F1), and answer length in characters;
  - the Spearman correlation of each score with answer length;
  - the share flagged (verdict failed) among wrong answers per family ("all-wrong sets") and among right
    answers (false alarms);
  - extra upstream calls and tokens (estimated the way the validator reserves them) per check.

    python benchmarks/consistency_shortqa.py [--split dev|sealed] [--n 3 5 10] [--boot 1000] [--embedding]

The sealed split is for one look at the end; tune nothing on it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from consistency_wikibio import use_shipped_model

DATA = Path(__file__).resolve().parent / "data" / "consistency_shortqa"


def load(split: str) -> list[dict[str, Any]]:
    with open(DATA / f"{split}.jsonl") as f:
        return [json.loads(line) for line in f if line.strip()]


def norm_tokens(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def exact_agreement(answer: str, samples: list[str]) -> float:
    a = " ".join(norm_tokens(answer))
    return sum(" ".join(norm_tokens(s)) == a for s in samples) / len(samples)


def soft_agreement(answer: str, samples: list[str]) -> float:
    """Mean SQuAD-style token F1 of the answer with each sample."""
    a = Counter(norm_tokens(answer))
    f1s = []
    for s in samples:
        b = Counter(norm_tokens(s))
        common = sum((a & b).values())
        if not common:
            f1s.append(0.0)
            continue
        p, r = common / sum(b.values()), common / sum(a.values())
        f1s.append(2 * p * r / (p + r))
    return float(np.mean(f1s))


class Replay:
    """The re-ask seam: restatements first (paraphrase mode), then the recorded answers, with usage estimated
    from the texts (what a real upstream would report, roughly)."""

    def __init__(self, row: dict[str, Any], mode: str, n: int) -> None:
        self.row, self.mode, self.n, self.answered = row, mode, n, 0

    async def __call__(self, body: dict[str, Any], messages: Any, n: int) -> Any:
        from llmvet.validators.base import ReaskResult
        from llmvet.validators.consistency.sampling import estimate_tokens

        if self.mode == "samples":
            texts = self.row["samples"][:n]
        elif messages and "Restate" in str(messages[0].get("content", "")):
            texts = self.row["paraphrases"][:n]
        else:
            texts = self.row["paraphrase_answers"][self.answered : self.answered + n]
            self.answered += n
        prompt = estimate_tokens(messages or self.row["question"])
        completion = sum(estimate_tokens(t) for t in texts)
        return ReaskResult(list(texts), {"prompt_tokens": prompt, "completion_tokens": completion})


async def run(rows: list[dict[str, Any]], mode: str, n: int, embedding: bool) -> list[dict[str, Any]]:
    from llmvet.resources import Resources
    from llmvet.store import open_store
    from llmvet.validators.base import Context, Status
    from llmvet.validators.consistency import ConsistencyConfig, ConsistencyValidator

    cfg: dict[str, Any] = {"daily_token_budget": None, "samples": n}
    if mode == "paraphrase":
        cfg.update(mode="paraphrase", paraphrases=n)
    if embedding:
        cfg.update(semantic_weight=0.5, sentence_threshold=0.6, response_threshold=0.5)
    validator = ConsistencyValidator(ConsistencyConfig(**cfg))
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        resources = Resources(await open_store(f"sqlite:///{tmp}/s.db"))
        try:
            for row in rows:
                request = {"model": "m", "messages": [{"role": "user", "content": row["question"]}]}
                ctx = Context(
                    text=row["answer"], request=request, model="m", resources=resources, reask_fn=Replay(row, mode, n)
                )
                v = await validator.check(ctx)
                if v.status is Status.ERROR:
                    raise SystemExit(f"{row['id']}: {v.error}")
                usage = v.meta.get("extra_usage", {})
                out.append(
                    {
                        "skipped": "skipped" in v.meta,
                        "share": v.meta.get("contradiction_share", 0.0),
                        "sentence": v.meta.get("response_score", 0.0),
                        "failed": v.status is Status.FAILED,
                        "calls": usage.get("calls", 0),
                        "tokens": usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0),
                    }
                )
        finally:
            await resources.close()
    return out


def auroc_ci(y: np.ndarray, s: np.ndarray, groups: np.ndarray, boot: int, rng: np.random.Generator) -> str:
    """AUROC with a bootstrap 95% interval resampling questions (both answers of a question together)."""
    point = roc_auc_score(y, s)
    uniq = np.unique(groups)
    index = {g: np.flatnonzero(groups == g) for g in uniq}
    vals = []
    for _ in range(boot):
        take = np.concatenate([index[g] for g in rng.choice(uniq, len(uniq))])
        if 0 < y[take].sum() < len(take):
            vals.append(roc_auc_score(y[take], s[take]))
    lo, hi = np.percentile(vals, [2.5, 97.5])
    return f"{100 * point:5.1f} ({100 * lo:4.1f}–{100 * hi:4.1f})"


def report(rows: list[dict[str, Any]], results: dict[tuple[str, int], list[dict[str, Any]]], boot: int) -> None:
    rng = np.random.default_rng(0)
    y = np.array([r["wrong"] for r in rows], dtype=int)
    groups = np.array([r["question"] for r in rows])
    length = np.array([len(r["answer"]) for r in rows], dtype=float)
    print(f"{len(rows)} answers, {y.sum()} wrong, {len(set(groups))} questions\n")
    print("AUROC of wrong answers, % (bootstrap 95% CI over questions)")
    for (mode, n), res in results.items():
        share = np.array([r["share"] for r in res])
        sentence = np.array([r["sentence"] for r in res])
        failed = np.array([r["failed"] for r in res], dtype=float)
        texts = [r["samples"][:n] if mode == "samples" else r["paraphrase_answers"][:n] for r in rows]
        exact = 1 - np.array([exact_agreement(r["answer"], t) for r, t in zip(rows, texts, strict=True)])
        soft = 1 - np.array([soft_agreement(r["answer"], t) for r, t in zip(rows, texts, strict=True)])
        facts = [r["sample_facts"][:n] if mode == "samples" else r["paraphrase_facts"][:n] for r in rows]
        oracle = np.array([np.mean([f != r["fact"] for f in fs]) for r, fs in zip(rows, facts, strict=True)])
        scores = {
            "oracle (true facts disagree)": oracle,
            "contradiction share": share,
            "sentence score": sentence,
            "combined (max)": np.maximum(share, sentence),
            "verdict failed": failed,
            "1 - exact string agreement": exact,
            "1 - soft agreement (token F1)": soft,
            "answer length": length,
        }
        print(f"\n  mode {mode}, N={n}")
        for name, s in scores.items():
            rho = spearmanr(s, length).statistic if name != "answer length" else 1.0
            print(f"    {name:<30} {auroc_ci(y, s, groups, boot, rng)}   Spearman with length {rho:+.2f}")
        print(f"    skipped by triggers: {sum(r['skipped'] for r in res)}")
        flagged = Counter((r["family"], r["wrong"]) for r, f in zip(rows, failed, strict=True) if f)
        total = Counter((r["family"], r["wrong"]) for r in rows)
        fams = sorted({r["family"] for r in rows})
        wrong = ", ".join(f"{f} {100 * flagged[(f, True)] / max(1, total[(f, True)]):.0f}%" for f in fams)
        right = 100 * sum(flagged[(f, False)] for f in fams) / max(1, sum(total[(f, False)] for f in fams))
        print(f"    flagged among wrong answers: {wrong}; among right answers {right:.1f}%")
        print(
            f"    extra calls per check {np.mean([r['calls'] for r in res]):.1f}, "
            f"extra tokens per check {np.mean([r['tokens'] for r in res]):.0f} (estimated from the texts)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", choices=["dev", "sealed"], default="dev")
    ap.add_argument("--n", type=int, nargs="+", default=[3, 5, 10])
    ap.add_argument("--modes", nargs="+", default=["samples", "paraphrase"])
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--embedding", action="store_true", help="sentence scores with the embedding mix (needs the model)")
    args = ap.parse_args()
    if args.embedding:
        use_shipped_model()
    rows = load(args.split)
    results = {(m, n): asyncio.run(run(rows, m, n, args.embedding)) for m in args.modes for n in args.n}
    report(rows, results, args.boot)


if __name__ == "__main__":
    main()
