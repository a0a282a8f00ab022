"""Speed of the `uncertainty` validator's rule path, per answer, on the labelled dev set.

    python benchmarks/uncertainty_speed.py [--repeat 5] [--data tests/data/uncertainty/dev.jsonl]

Prints p50/p90/p99 per answer for `check()` (what the proxy runs) and for its parts, and — because
this machine may be busy — the same percentiles for a baseline in the same run (`str.lower` plus one
precompiled regex scan over the text), so the ratio is meaningful even when absolute times are not.
The first line reads each dev answer once, as a serving process does (every answer new), then again:
the other figures read the same texts repeatedly. Target: rule path p50 <= 2 ms per answer; <= 30 ms with the embedding pass; <= 0.2 ms per KB on the
realistic ~1 KB and ~10 KB coding answers of benchmarks/answers.py.

    python benchmarks/uncertainty_speed.py --embeddings   # also time check() with embeddings=True
(the embedding pass needs LLMVET_EMBEDDING_MODEL or hub access for the shared model)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # answers.py
from answers import ANSWERS, kb
from distinct import distinct_answers

from llmvet.validators.base import Context
from llmvet.validators.uncertainty import UncertaintyValidator
from llmvet.validators.uncertainty.text import build_views

DEFAULT_DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "uncertainty" / "dev.jsonl"
_BASELINE = re.compile(r"\b(?:i'm not sure|not certain|confidence:|uncertain)\b")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def timed(fn, items, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        for item in items:
            t0 = time.perf_counter()
            fn(item)
            out.append((time.perf_counter() - t0) * 1000)
    return out


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--embeddings", action="store_true")
    args = ap.parse_args()
    records = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = [r["text"] for r in records]
    validator = UncertaintyValidator(UncertaintyValidator.Config(embeddings=False))  # the rule path alone
    validator.analyse(texts[0])  # warm the cue cache
    first_read(validator, coding_answers(), "realistic coding answers")  # (first: none read before)
    first_read(validator, texts[1:], "dev answers")
    first_read(validator, distinct_answers(400), "distinct ~1 KB coding answers (benchmarks/distinct.py)")

    check_ms: list[float] = []
    for _ in range(args.repeat):
        for r in records:
            ctx = Context(text=r["text"], request={"messages": [{"role": "user", "content": r.get("prompt", "")}]})
            t0 = time.perf_counter()
            await validator.check(ctx)
            check_ms.append((time.perf_counter() - t0) * 1000)
    views_ms = timed(build_views, texts, args.repeat)
    base_ms = timed(lambda t: _BASELINE.search(t.lower()), texts, args.repeat)

    chars = [len(t) for t in texts]
    print(f"{len(texts)} answers x {args.repeat}; length p50 {statistics.median(chars):.0f} chars, max {max(chars)}")
    print(f"{'path':<28} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8}")
    for name, vals in (
        ("check() rule path", check_ms),
        ("  of which: text views", views_ms),
        ("baseline (lower + 1 regex)", base_ms),
    ):
        print(f"{name:<28} {pct(vals, 0.5):>8.3f} {pct(vals, 0.9):>8.3f} {pct(vals, 0.99):>8.3f}")
    print(f"ratio check/baseline at p50: {pct(check_ms, 0.5) / max(pct(base_ms, 0.5), 1e-9):.0f}x")
    # Chat answers in the wild are often longer than the dev set's: join 5 answers (~1.5 KB each).
    joined = ["\n\n".join(texts[i : i + 5]) for i in range(0, len(texts) - 5, 5)]
    t = timed(validator.analyse, joined, args.repeat)
    size = statistics.median(len(j) for j in joined)
    print(f"answers of ~{size:.0f} chars (5 joined): p50 {pct(t, 0.5):.3f} ms, p90 {pct(t, 0.9):.3f} ms")
    per_kb(validator)
    long_text = "\n\n".join(texts[:40])
    t = timed(validator.analyse, [long_text], 20)
    print(f"one long answer ({len(long_text)} chars): p50 {pct(t, 0.5):.2f} ms")
    if args.embeddings:
        await embedding_timings(records, args.repeat)


def coding_answers() -> list[str]:
    """The 12 realistic coding answers of tests/data/packages/realistic.jsonl and the ~1 KB one."""
    path = Path(__file__).resolve().parents[1] / "tests" / "data" / "packages" / "realistic.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines if line.strip()] + [ANSWERS["1 KB"]]


def first_read(validator: UncertaintyValidator, texts: list[str], label: str) -> None:
    """ms per KB over answers this process has not read before, then over the same answers again. A
    serving process reads only new answers; a cost that drops on a second read (a lazily built DFA, a
    memo) flatters every figure below, which reads the same texts again and again. (CPU time of this
    thread: other processes on a busy machine do not count.)"""
    size = sum(len(t.encode()) for t in texts) / 1024
    rounds = []
    for _ in range(2):
        t0 = time.thread_time()
        for text in texts:
            validator.analyse(text)
        rounds.append((time.thread_time() - t0) * 1000 / size)
    t0 = time.thread_time()
    for text in texts:
        _BASELINE.search(text.lower())
    base = (time.thread_time() - t0) * 1000 / size
    print(
        f"first read of {len(texts)} {label} ({size:.0f} KB): {rounds[0]:.3f} ms/KB; read again: {rounds[1]:.3f} ms/KB; "
        f"baseline {base:.4f} ms/KB (ratio {rounds[0] / max(base, 1e-9):.0f}x)"
    )


def per_kb(validator: UncertaintyValidator) -> None:
    """The rule path on the realistic coding answers of benchmarks/answers.py, in ms per KB, next to the
    baseline in the same run (target: <= 0.2 ms/KB)."""
    for label, text in ANSWERS.items():
        n = 300 if label == "1 KB" else 60
        rule = timed(validator.analyse, [text] * n, 1)
        views = timed(build_views, [text] * n, 1)
        base = timed(lambda t: _BASELINE.search(t.lower()), [text] * n, 1)
        size = kb(text)
        print(
            f"coding answer {label} ({size:.1f} KB): rule path p50 {pct(rule, 0.5) / size:.3f} ms/KB "
            f"(text views {pct(views, 0.5) / size:.3f}), baseline {pct(base, 0.5) / size:.4f} ms/KB, "
            f"ratio {pct(rule, 0.5) / max(pct(base, 0.5), 1e-9):.0f}x"
        )


async def embedding_timings(records: list[dict], repeat: int) -> None:
    import tempfile

    from llmvet.resources import Resources
    from llmvet.store import open_store

    validator = UncertaintyValidator(UncertaintyValidator.Config(embeddings=True))
    with tempfile.TemporaryDirectory() as tmp:
        resources = Resources(await open_store(f"sqlite:///{tmp}/s.db"))
        try:
            warm = Context(
                text="Sizes vary. I pulled those ranges out of general reading rather than a survey.",
                resources=resources,
            )
            t0 = time.perf_counter()
            await validator.check(warm)  # loads the model and encodes the prototypes once
            print(f"embedding pass: first call (model load + prototypes) {time.perf_counter() - t0:.1f} s")
            all_ms: list[float] = []
            encoded_ms: list[float] = []
            for _ in range(repeat):
                for r in records:
                    ctx = Context(text=r["text"], resources=resources)
                    t0 = time.perf_counter()
                    verdict = await validator.check(ctx)
                    ms = (time.perf_counter() - t0) * 1000
                    all_ms.append(ms)
                    if isinstance(verdict.meta.get("embedding"), dict):
                        encoded_ms.append(ms)
        finally:
            await resources.close()
    print(f"check() with embeddings, all answers   p50 {pct(all_ms, 0.5):.3f} ms  p90 {pct(all_ms, 0.9):.3f} ms")
    if encoded_ms:
        share = len(encoded_ms) / len(all_ms)
        print(
            f"  answers that reached the model ({share:.0%}): p50 {pct(encoded_ms, 0.5):.1f} ms  "
            f"p90 {pct(encoded_ms, 0.9):.1f} ms"
        )


if __name__ == "__main__":
    asyncio.run(main())
