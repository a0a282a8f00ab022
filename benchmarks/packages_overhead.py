"""What the packages validator costs per answer.

    python benchmarks/packages_overhead.py [--n 3000] [--delay 0.1]

1. Warm cache: the realistic ~1 KB and ~10 KB coding answers of benchmarks/answers.py (ms per KB
   against the 0.2 ms/KB target), then a typical coding answer (install command, requirements block, Python and JS imports)
   checked again and again once its names are cached; p50/p90 per answer, next to a baseline in the
   same run (one regex pass over the same text, what a trivial validator costs).
2. Cold cache: an answer naming 12 packages, against the loopback fake registry answering each
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
    a = ap.parse_args()
    fake = FakeRegistry()
    with ThreadedServer(fake.app) as srv:
        for label, text in ANSWERS.items():  # the realistic coding answers of the other speed benchmarks
            asyncio.run(warm(srv.url, a.n // (3 if label == "10 KB" else 1), text, f"coding answer, {label}"))
        asyncio.run(warm(srv.url, a.n, TYPICAL, "typical answer"))
        asyncio.run(warm(srv.url, a.n // 3, LONG, "12 answers in one"))
        asyncio.run(cold(srv.url, fake, a.delay))


if __name__ == "__main__":
    main()
