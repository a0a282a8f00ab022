"""Speed of the `consistency` validator: its own time for a 10-sentence answer at N=5, and the
event loop's responsiveness while checks run.

- Validator time: `check()` wall time with a re-ask that answers at once (so upstream time is
  excluded), over many WikiBio-shaped answers; p50/p95. Baselines in the same run: the bare
  embedding call on the same texts, and the lexical-only configuration.
- Loop lag: a ticker coroutine wakes every 5 ms and records how late it is, while checks run back
  to back. Same measurement with the encoding done on the event loop (what run_cpu avoids), and
  with nothing running, as baselines.

    HF_HUB_OFFLINE=1 python benchmarks/consistency_speed.py [--runs 60]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from consistency_wikibio import load, request_for, use_shipped_model  # noqa: E402


def cases(rows: list[dict[str, Any]], sentences: int = 10, n: int = 5) -> list[tuple[str, list[str], dict]]:
    """(answer of `sentences` sentences, n samples, request) built from consecutive passages."""
    out = []
    pool = [s for r in rows for s in r["gpt3_sentences"]]
    for i, r in enumerate(rows):
        start = sum(len(x["gpt3_sentences"]) for x in rows[:i])
        answer = " ".join((pool * 2)[start : start + sentences])
        out.append((answer, r["samples"][:n], request_for(r)))
    return out


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q))


class Ticker:
    """Measures event-loop lag: how late a 5 ms sleep wakes up."""

    def __init__(self, period: float = 0.005) -> None:
        self.period, self.lags, self._stop = period, [], False

    async def run(self) -> None:
        while not self._stop:
            t = time.perf_counter()
            await asyncio.sleep(self.period)
            self.lags.append((time.perf_counter() - t - self.period) * 1000)

    def stop(self) -> None:
        self._stop = True


async def main_async(args: argparse.Namespace) -> None:
    from llmvet import embeddings
    from llmvet.resources import Resources
    from llmvet.store import open_store
    from llmvet.validators.base import Context, ReaskResult
    from llmvet.validators.consistency import ConsistencyConfig, ConsistencyValidator, split_sentences

    rows = load()
    data = cases(rows)[: args.runs]
    with tempfile.TemporaryDirectory() as tmp:
        resources = Resources(await open_store(f"sqlite:///{tmp}/s.db"))
        t0 = time.perf_counter()
        embedder = await embeddings.get_embedder(resources)
        print(f"model load (once per process): {(time.perf_counter() - t0) * 1000:.0f} ms — {embedder.name}")

        def validator(w: float) -> ConsistencyValidator:
            return ConsistencyValidator(
                ConsistencyConfig(samples=5, semantic_weight=w, daily_token_budget=None, max_extra_tokens=10**6)
            )

        async def one(v: ConsistencyValidator, answer: str, samples: list[str], request: dict) -> float:
            async def reask(body, messages, k):
                return ReaskResult(samples[:k], {"total_tokens": 0})

            ctx = Context(text=answer, request=request, model="m", resources=resources, reask_fn=reask)
            t = time.perf_counter()
            verdict = await v.check(ctx)
            assert verdict.status.value != "error", verdict.error
            return (time.perf_counter() - t) * 1000

        full, lexical = validator(0.5), validator(0.0)
        for a, s, r in data[:3]:  # warm-up
            await one(full, a, s, r)

        n_sent = [len(full.sentences_to_score(a)) for a, _, _ in data]
        n_texts = [len(full.sentences_to_score(a)) + sum(len(split_sentences(x)) for x in s) for a, s, _ in data]
        print(f"{len(data)} answers: {statistics.mean(n_sent):.1f} sentences scored each, "
              f"{statistics.mean(n_texts):.0f} sentences encoded per check (answer + 5 samples)")

        bare, full_ms, lex_ms = [], [], []
        for a, s, r in data:
            texts = [x.text for x in full.sentences_to_score(a)] + [y.text for x in s for y in split_sentences(x)]
            t = time.perf_counter()
            await resources.run_cpu(embedder.encode, texts)
            bare.append((time.perf_counter() - t) * 1000)
            full_ms.append(await one(full, a, s, r))
            lex_ms.append(await one(lexical, a, s, r))
        print("validator time per check, ms (upstream excluded):")
        for label, xs in (("shipped (embeddings + lexical)", full_ms), ("baseline: bare encode of same texts", bare), ("lexical only", lex_ms)):
            print(f"  {label:38s} p50 {pct(xs, 50):6.1f}  p95 {pct(xs, 95):6.1f}  max {max(xs):6.1f}")
        print(f"  overhead of the validator over the bare encode: p50 ratio {pct(full_ms, 50) / pct(bare, 50):.2f}")

        async def lag_during(work) -> list[float]:
            ticker = Ticker()
            task = asyncio.create_task(ticker.run())
            await work()
            ticker.stop()
            await task
            return ticker.lags

        async def checks() -> None:
            for a, s, r in data[: args.lag_runs]:
                await one(full, a, s, r)

        async def on_loop() -> None:  # the anti-pattern, for comparison: encode on the event loop
            for a, s, r in data[: args.lag_runs]:
                texts = [x.text for x in full.sentences_to_score(a)] + [y.text for x in s for y in split_sentences(x)]
                embedder.encode(texts)
                await asyncio.sleep(0)

        async def idle() -> None:
            await asyncio.sleep(2)

        print("event-loop lag of a 5 ms ticker, ms:")
        for label, work in (("idle (baseline)", idle), ("during consistency checks", checks), ("encode ON the loop (anti-pattern)", on_loop)):
            lags = await lag_during(work)
            print(f"  {label:38s} ticks {len(lags):4d}  p50 {pct(lags, 50):6.2f}  p99 {pct(lags, 99):7.2f}  max {max(lags):7.2f}")
        await resources.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=60)
    ap.add_argument("--lag-runs", type=int, default=15)
    args = ap.parse_args()
    use_shipped_model()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
