"""Speed of the `consistency` validator: its own time for a 10-sentence answer at N=5, and the
event loop's responsiveness while checks run.

- Validator time: `check()` wall time with a re-ask that answers at once (so upstream time is
  excluded), over many WikiBio-shaped answers; p50/p95. Baselines in the same run: the bare
  embedding call on the same texts, and the lexical-only configuration.
- Loop lag: a ticker coroutine wakes every 5 ms and records how late it is, while checks run back
  to back. Same measurement with the encoding done on the event loop (what run_cpu avoids), and
  with nothing running, as baselines.
- Other requests through the real proxy (fake upstream from tests/support/fake_upstream.py): latency of
  requests under a rule without consistency, idle vs while consistency checks (N=5) run.

    HF_HUB_OFFLINE=1 python benchmarks/consistency_speed.py [--runs 60] [--no-proxy]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from consistency_wikibio import load, request_for, use_shipped_model


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
        embedder = await embeddings.get_embedder(resources, quantize=True)  # what the validator uses by default
        import torch

        print(
            f"model load (once per process): {(time.perf_counter() - t0) * 1000:.0f} ms — {embedder.name}, "
            f"int8 {embedder.quantized}, torch threads {torch.get_num_threads()} of {os.cpu_count()} cores; "
            f"load average {os.getloadavg()[0]:.2f} (other processes share this machine)"
        )

        def validator(w: float, quantize: bool = True) -> ConsistencyValidator:
            return ConsistencyValidator(
                ConsistencyConfig(
                    samples=5,
                    semantic_weight=w,
                    embedding_quantize=quantize,
                    daily_token_budget=None,
                    max_extra_tokens=10**6,
                )
            )

        async def one(v: ConsistencyValidator, answer: str, samples: list[str], request: dict) -> float:
            async def reask(body, messages, k):
                return ReaskResult(samples[:k], {"total_tokens": 0})

            ctx = Context(text=answer, request=request, model="m", resources=resources, reask_fn=reask)
            t = time.perf_counter()
            verdict = await v.check(ctx)
            assert verdict.status.value != "error", verdict.error
            return (time.perf_counter() - t) * 1000

        full, lexical, fp32 = validator(0.5), validator(0.0), validator(0.5, quantize=False)
        for a, s, r in data[:3]:  # warm-up (and load the float32 model too)
            await one(full, a, s, r)
            await one(fp32, a, s, r)

        n_sent = [len(full.sentences_to_score(Context(text=a))) for a, _, _ in data]
        n_texts = [
            len(full.sentences_to_score(Context(text=a))) + sum(len(split_sentences(x)) for x in s) for a, s, _ in data
        ]
        print(
            f"{len(data)} answers: {statistics.mean(n_sent):.1f} sentences scored each, "
            f"{statistics.mean(n_texts):.0f} sentences encoded per check (answer + 5 samples)"
        )

        bare, full_ms, lex_ms, fp32_ms = [], [], [], []
        for a, s, r in data:
            texts = [x.text for x in full.sentences_to_score(Context(text=a))] + [
                y.text for x in s for y in split_sentences(x)
            ]
            t = time.perf_counter()
            await resources.run_cpu(embedder.encode, texts)
            bare.append((time.perf_counter() - t) * 1000)
            full_ms.append(await one(full, a, s, r))
            lex_ms.append(await one(lexical, a, s, r))
            fp32_ms.append(await one(fp32, a, s, r))
        print("validator time per check, ms (upstream excluded):")
        for label, xs in (
            ("shipped (int8 embeddings + lexical)", full_ms),
            ("baseline: bare encode of same texts", bare),
            ("same with the float32 model", fp32_ms),
            ("lexical only", lex_ms),
        ):
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
            for a, s, _r in data[: args.lag_runs]:
                texts = [x.text for x in full.sentences_to_score(Context(text=a))] + [
                    y.text for x in s for y in split_sentences(x)
                ]
                embedder.encode(texts)
                await asyncio.sleep(0)

        async def idle() -> None:
            await asyncio.sleep(2)

        print("event-loop lag of a 5 ms ticker, ms:")
        for label, work in (
            ("idle (baseline)", idle),
            ("during consistency checks", checks),
            ("encode ON the loop (anti-pattern)", on_loop),
        ):
            lags = await lag_during(work)
            print(
                f"  {label:38s} ticks {len(lags):4d}  p50 {pct(lags, 50):6.2f}  p99 {pct(lags, 99):7.2f}  max {max(lags):7.2f}"
            )
        await resources.close()
    if args.proxy:
        await proxy_latency(data, args)


async def proxy_latency(data: list[tuple[str, list[str], dict]], args: argparse.Namespace) -> None:
    import json

    import httpx

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.support
    from llmvet.config import Settings
    from llmvet.policy.loader import parse_policy
    from llmvet.proxy.app import create_app
    from tests.support.fake_upstream import FakeUpstream, Reply
    from tests.support.servers import ThreadedServer

    answers = {str(i): (a, s) for i, (a, s, _) in enumerate(data)}

    def respond(body: dict[str, Any]) -> Reply:
        if body.get("model") != "facts":
            return Reply(text="ok")
        answer, samples = answers[body["user"]]
        return Reply(text=samples) if "max_completion_tokens" in body else Reply(text=answer)

    cfg = {"samples": 5, "daily_token_budget": None, "max_extra_tokens": 10**6}
    policy = parse_policy(
        "version: 1\nname: speed\nrules:\n"
        "  - name: facts\n    match: {models: [facts]}\n    validators:\n"
        f"      - use: consistency\n        with: {json.dumps(cfg)}\n        timeout: 60\n    on_fail: annotate\n"
        "  - name: rest\n    validators:\n      - use: regex\n        with: {must_not_match: ['NEVER-[0-9]+']}\n",
        "speed.yaml",
    )
    with tempfile.TemporaryDirectory() as tmp, ThreadedServer(FakeUpstream(respond).app()) as up:
        settings = Settings(upstream=up.url + "/v1", store=f"sqlite:///{tmp}/p.db", audit=False)
        with ThreadedServer(create_app(settings, policy)) as proxy:
            async with httpx.AsyncClient(base_url=proxy.url, timeout=120) as http:

                async def other() -> float:
                    t = time.perf_counter()
                    r = await http.post(
                        "/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "hi"}]}
                    )
                    r.raise_for_status()
                    return (time.perf_counter() - t) * 1000

                async def fact(i: int) -> float:
                    _a, _s, req = data[i % len(data)]
                    t = time.perf_counter()
                    r = await http.post(
                        "/v1/chat/completions", json={**req, "model": "facts", "user": str(i % len(data))}
                    )
                    r.raise_for_status()
                    assert "llmvet" in r.json() or r.headers.get("x-llmvet-decision") == "allow"
                    return (time.perf_counter() - t) * 1000

                await fact(0)  # loads the model in the proxy
                idle = [await other() for _ in range(args.other_requests)]
                done = asyncio.Event()
                checks: list[float] = []

                async def checker() -> None:
                    i = 0
                    while not done.is_set():
                        checks.append(await fact(i))
                        i += 1

                task = asyncio.create_task(checker())
                await asyncio.sleep(0.2)
                busy = []
                for _ in range(args.other_requests):
                    busy.append(await other())
                    await asyncio.sleep(0.01)
                done.set()
                await task
    print("through the proxy: latency of other requests (rule without consistency), ms:")
    for label, xs in (("idle (baseline)", idle), ("while consistency checks run", busy)):
        print(f"  {label:38s} n {len(xs):4d}  p50 {pct(xs, 50):6.2f}  p95 {pct(xs, 95):6.2f}  max {max(xs):7.2f}")
    print(
        f"  p95 ratio busy/idle: {pct(busy, 95) / pct(idle, 95):.2f}; consistency requests meanwhile: {len(checks)}, "
        f"p50 {pct(checks, 50):.0f} ms (fake upstream answers at once)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=60)
    ap.add_argument("--lag-runs", type=int, default=15)
    ap.add_argument("--other-requests", type=int, default=200)
    ap.add_argument("--no-proxy", dest="proxy", action="store_false", help="skip the through-the-proxy part")
    args = ap.parse_args()
    use_shipped_model()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
