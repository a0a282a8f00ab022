"""What the packages validator costs per answer.

    python benchmarks/packages_overhead.py [--n 3000] [--delay 0.1]

1. Warm cache: the realistic ~1 KB and ~10 KB coding answers of benchmarks/answers.py (ms per KB
   against the 0.2 ms/KB target), then a typical coding answer (install command, requirements block, Python and JS imports)
   checked again and again once its names are cached; p50/p90 per answer, next to a baseline in the
   same run (one regex pass over the same text, what a trivial validator costs).
2. Read once (the headline): every distinct answer of tests/data/packages/*.jsonl, the realistic answers,
   and joined/long variants of them, each checked once with the registry cache warm (a first pass over all
   texts looked their names up), the way a serving process sees each answer once. Memos keyed by text
   pieces are emptied before the timed pass. ms/KB overall and per size bucket, next to the same-run baseline.
   `--read-once-only` prints just this part (what compare runs of two trees read), after
   the fixed cost of a check (empty and one-line answers, one and ten references; `--fixed-only`: just that).
3. Cold cache: an answer naming 12 packages, against the loopback fake registry answering each
   request after `delay` seconds; wall time with concurrency 16 vs 1, against 12 x delay.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]  # for tests.support, answers

from answers import ANSWERS, kb  # noqa: E402

from llmvet.resources import Resources  # noqa: E402
from llmvet.store import open_store  # noqa: E402
from llmvet.validators.base import Context  # noqa: E402
from llmvet.validators.packages import PackagesValidator  # noqa: E402
from tests.support.fake_registry import FakeRegistry  # noqa: E402
from tests.support.servers import ThreadedServer  # noqa: E402

TYPICAL = """Sure! Here's a small FastAPI service that stores uploads in S3 and thumbnails images.

First install the dependencies:

```bash
pip install fastapi "uvicorn[standard]" boto3 pillow python-dotenv
```

Or put them in `requirements.txt`:

```
fastapi>=0.110
uvicorn[standard]>=0.29
boto3==1.34.0
pillow>=10.0
python-dotenv>=1.0
```

Then create `app.py`:

```python
import io
import os
from pathlib import Path

import boto3
from dotenv import load_dotenv
from fastapi import FastAPI, UploadFile
from PIL import Image

from settings import BUCKET  # the settings.py shown below

load_dotenv()
app = FastAPI()
s3 = boto3.client("s3")


@app.post("/upload")
async def upload(file: UploadFile):
    data = await file.read()
    img = Image.open(io.BytesIO(data))
    img.thumbnail((256, 256))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    s3.put_object(Bucket=BUCKET, Key=file.filename, Body=buf.getvalue())
    return {"ok": True}
```

And `settings.py`:

```python
import os
BUCKET = os.environ.get("BUCKET", "uploads")
```

For the front end, `npm install axios react`, then:

```js
import axios from 'axios';
import React from 'react';
import fs from 'node:fs';
```

Run it with `uvicorn app:app --reload`. Make sure your AWS credentials are configured.
"""

COLD_NAMES = [
    "requests",
    "numpy",
    "pandas",
    "flask",
    "django",
    "httpx",
    "rich",
    "click",
    "scipy",
    "tqdm",
    "lxml",
    "attrs",
]


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]


LONG = "\n\n".join(
    json.loads(line)["text"] for line in (ROOT / "tests/data/packages/realistic.jsonl").read_text().splitlines()
)


async def warm(url: str, n: int, text: str, label: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        res = Resources(await open_store(f"sqlite:///{d}/c.db"))
        v = PackagesValidator(
            PackagesValidator.Config(
                pypi_index_url=f"{url}/simple", pypi_json_url=f"{url}/pypi", npm_registry_url=f"{url}/npm"
            )
        )
        first = await v.check(Context(text=text, resources=res))
        times, base = [], []
        pat = re.compile(r"(?i)\b(?:password|api[_-]?key)\s*[:=]")
        for _ in range(n):
            t = time.perf_counter()
            await v.check(Context(text=text, resources=res))
            times.append(time.perf_counter() - t)
            t = time.perf_counter()
            Context(text=text, resources=res).code_blocks  # noqa: B018 - what any validator pays
            pat.search(text)
            base.append(time.perf_counter() - t)
        await res.close()
    p50, p90 = pct(times, 0.5) * 1000, pct(times, 0.9) * 1000
    b50 = pct(base, 0.5) * 1000
    print(
        f"warm cache, {label} ({len(text)} chars, {first.meta['references']} references, "
        f"{first.meta['packages_checked']} registry names, {len(first.findings)} findings), n={n}"
    )
    print(f"  packages validator: p50 {p50:.3f} ms  p90 {p90:.3f} ms  mean {statistics.mean(times) * 1000:.3f} ms")
    print(f"  baseline (code blocks + one regex pass): p50 {b50:.4f} ms   ratio {p50 / b50:.1f}x")
    size = kb(text)
    print(
        f"  per KB ({size:.1f} KB): validator {p50 / size:.3f} ms/KB   baseline {b50 / size:.4f} ms/KB (target <= 0.2)"
    )


def read_once_texts() -> list[str]:
    """Every distinct text of the read-once pass: the corpus and realistic answers as they are, joined
    five and 25 at a time (mixed prose and code), and long variants of ~10 and ~16 KB."""
    singles: list[str] = []
    for path in sorted((ROOT / "tests/data/packages").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line) if line.strip() else {}
            if isinstance(rec.get("text"), str):
                singles.append(rec["text"])
    singles += [*ANSWERS.values(), TYPICAL, LONG]
    out = list(dict.fromkeys(singles))
    real = out[-(len(ANSWERS) + 2 + 12) :]  # the realistic answers (as in the 10 KB one) and their long forms
    for group in (5, 25):
        out += ["\n\n".join(singles[i : i + group]) for i in range(0, len(singles) - group + 1, group)]
    for size in (10_000, 16_000):
        for shift in range(3):  # distinct orders, each a new text
            parts, acc = [], 0
            seq = real[shift:] + singles[shift * 7 :: 11]
            while acc < size:
                parts.append(seq[len(parts) % len(seq)])
                acc += len(parts[-1].encode()) + 2
            out.append("\n\n".join(parts))
    return list(dict.fromkeys(out))


BUCKETS = ((0, 500, "< 0.5 KB"), (500, 2_000, "0.5-2 KB"), (2_000, 8_000, "2-8 KB"), (8_000, 1 << 40, ">= 8 KB"))


def forget_text_memos(validator: Any = None) -> None:
    """Empty the memos keyed by pieces of answer text (requirement strings), and the validator's memory of
    references it judged (keyed by the reference as written): a new answer finds them cold. The caches
    keyed by a package name (registry records, where each name is looked up) stay warm."""
    from llmvet.validators.packages import refs

    judged = getattr(getattr(validator, "judge", None), "_judged", None)  # (trees before it have none)
    if judged is not None:
        judged.clear()

    for name in ("packaging_requirement", "parse_requirement"):  # (the memo's name in this tree or earlier ones)
        memo = getattr(getattr(refs, name, None), "cache_clear", None)
        if memo is not None:
            memo()


async def read_once(url: str, rounds: int, clock: str = "wall") -> None:
    """`clock` "cpu" times with this thread's CPU time: on a machine others load, time spent waiting for
    a core is left out (cache misses they cause are not)."""
    timer = time.perf_counter if clock == "wall" else time.thread_time
    texts = read_once_texts()
    pat = re.compile(r"(?i)\b(?:password|api[_-]?key)\s*[:=]")
    sums: dict[str, list[list[float]]] = {}  # bucket -> per round [validator s, baseline s, KB, texts]
    for r in range(rounds):
        with tempfile.TemporaryDirectory() as d:
            res = Resources(await open_store(f"sqlite:///{d}/c.db"))
            v = PackagesValidator(
                PackagesValidator.Config(
                    pypi_index_url=f"{url}/simple", pypi_json_url=f"{url}/pypi", npm_registry_url=f"{url}/npm"
                )
            )
            for text in texts:  # warm the registry cache: every name looked up (and memoised per name)
                await v.check(Context(text=text, resources=res))
            forget_text_memos(v)
            order = texts[r % 7 :] + texts[: r % 7]
            for text in order:
                size = len(text.encode())
                label = next(b[2] for b in BUCKETS if b[0] <= size < b[1])
                t = timer()
                await v.check(Context(text=text, resources=res))
                dv = timer() - t
                t = timer()
                Context(text=text, resources=res).code_blocks  # noqa: B018 - what any validator pays
                pat.search(text)
                db = timer() - t
                for key in (label, "overall"):
                    row = sums.setdefault(key, [[0.0, 0.0, 0.0, 0] for _ in range(rounds)])[r]
                    row[0] += dv
                    row[1] += db
                    row[2] += size / 1000
                    row[3] += 1
            await res.close()
    print(
        f"read once, warm registry cache: {len(texts)} distinct texts, each checked once per round, "
        f"{rounds} rounds, {clock} clock"
    )
    for key in [b[2] for b in BUCKETS] + ["overall"]:
        rows = sums.get(key)
        if not rows:
            continue
        per_kb = [row[0] * 1000 / row[2] for row in rows]
        base_kb = [row[1] * 1000 / row[2] for row in rows]
        print(
            f"  {key:>9}: {rows[0][3]:4d} texts {rows[0][2]:7.1f} KB   validator {statistics.median(per_kb):.3f} ms/KB "
            f"(rounds {' '.join(f'{x:.3f}' for x in per_kb)})   baseline {statistics.median(base_kb):.4f} ms/KB"
        )


FIXED = {
    "empty answer": "",
    "one-line answer": "Sure, the capital of France is Paris; it has been since the 10th century.",
    "one reference": "Install it with `pip install requests` and you are done.",
    "ten references": "Install them:\n\n```bash\npip install " + " ".join(COLD_NAMES[:10]) + "\n```\n",
}


async def fixed_costs(url: str, rounds: int, n: int = 2000) -> None:
    """The fixed cost of a check (per answer, per reference), warm cache, thread CPU time: each case as
    `n` distinct texts (a numbered sentence appended), each checked once; code blocks parsed beforehand
    (the proxy shares them between validators)."""
    with tempfile.TemporaryDirectory() as d:
        res = Resources(await open_store(f"sqlite:///{d}/c.db"))
        v = PackagesValidator(
            PackagesValidator.Config(
                pypi_index_url=f"{url}/simple", pypi_json_url=f"{url}/pypi", npm_registry_url=f"{url}/npm"
            )
        )
        await v.warm_up(res)
        for text in FIXED.values():
            await v.check(Context(text=text, resources=res))
        print(f"fixed cost per check, warm cache, {n} distinct texts a case, {rounds} rounds, cpu clock")
        for label, text in FIXED.items():
            per = []
            for r in range(rounds):
                ctxs = [Context(text=f"{text}\n\nNote {r}.{i}." if text else "", resources=res) for i in range(n)]
                for c in ctxs:
                    c.code_blocks  # noqa: B018 - parsed once per answer for every validator
                t = time.thread_time()
                for c in ctxs:
                    await v.check(c)
                per.append((time.thread_time() - t) / n * 1e6)
            print(f"  {label:>15}: {statistics.median(per):6.1f} us (rounds {' '.join(f'{x:.1f}' for x in per)})")
        await res.close()


def stream_ahead(rounds: int) -> None:
    """names_ahead as the proxy calls it, the answer arriving a few characters at a time: what the lookups
    started ahead cost, on long prose lines (a hint word such as "from" early in each) and on the
    realistic answers, read once per round."""
    from llmvet.validators.packages.streaming import line_window, names_ahead

    prose = (
        "The numbers come from the survey we ran last spring, and the figures below are taken from the "
        "appendix; each row lists the region, the sample size and the share who said they would switch "
    )
    texts = {
        "prose lines": "\n".join(prose * 4 + str(i) for i in range(12)) + "\n",
        "realistic answers": LONG,
    }
    for label, text in texts.items():
        per_kb = []
        for _ in range(rounds):
            state: dict = {}
            t = time.thread_time()
            for at in range(7, len(text) + 7, 7):
                part = text[:at]
                line_window(part, state, 0, False)
                names_ahead(part, state, True)
            per_kb.append((time.thread_time() - t) * 1000 / kb(text))
        print(
            f"  stream ahead, {label} ({kb(text):.1f} KB, 7 characters an event): {statistics.median(per_kb):.3f} ms/KB"
        )


async def cold(url: str, fake: FakeRegistry, delay: float) -> None:
    text = "```bash\npip install " + " ".join(COLD_NAMES) + "\n```"
    fake.delay = delay
    results = {}
    for conc in (16, 1):
        with tempfile.TemporaryDirectory() as d:
            res = Resources(await open_store(f"sqlite:///{d}/c.db"))
            v = PackagesValidator(
                PackagesValidator.Config(
                    pypi_index_url=f"{url}/simple",
                    pypi_json_url=f"{url}/pypi",
                    npm_registry_url=f"{url}/npm",
                    concurrency=conc,
                )
            )
            t = time.perf_counter()
            out = await v.check(Context(text=text, resources=res))
            results[conc] = time.perf_counter() - t
            assert out.status.value == "passed"
            await res.close()
    fake.delay = 0
    seq = len(COLD_NAMES) * delay
    print(f"cold cache, {len(COLD_NAMES)} names, registry answers after {delay * 1000:.0f} ms each")
    print(
        f"  concurrency 16: {results[16] * 1000:.0f} ms   concurrency 1: {results[1] * 1000:.0f} ms   "
        f"sequential floor {seq * 1000:.0f} ms   speed-up {results[1] / results[16]:.1f}x"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--delay", type=float, default=0.1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--read-once-only", action="store_true")
    ap.add_argument("--fixed-only", action="store_true", help="just the fixed cost per answer and reference")
    ap.add_argument(
        "--clock", choices=("wall", "cpu"), default="wall", help="read-once timer (cpu: on a loaded machine)"
    )
    a = ap.parse_args()
    fake = FakeRegistry()
    with ThreadedServer(fake.app) as srv:
        asyncio.run(fixed_costs(srv.url, a.rounds))
        if a.fixed_only:
            return
        asyncio.run(read_once(srv.url, a.rounds, a.clock))
        stream_ahead(a.rounds)
        if a.read_once_only:
            return
        for label, text in ANSWERS.items():  # the realistic coding answers of the other speed benchmarks
            asyncio.run(warm(srv.url, a.n // (3 if label == "10 KB" else 1), text, f"coding answer, {label}"))
        asyncio.run(warm(srv.url, a.n, TYPICAL, "typical answer"))
        asyncio.run(warm(srv.url, a.n // 3, LONG, "12 answers in one"))
        asyncio.run(cold(srv.url, fake, a.delay))


if __name__ == "__main__":
    main()
