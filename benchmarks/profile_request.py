"""Where a vetted request's time goes: cProfile over many requests through the real app, per policy.

    python benchmarks/profile_request.py [--n 2000] [--top 25] [--answer realistic|short|distinct]

The app runs in this process (its lifespan, store, audit writer, extensions: as `llmvet serve` builds
it), called directly as ASGI so no HTTP client shows up in the profile; the upstream is the canned one
from benchmarks/bare.py and the registry the loopback fake of the tests, both on loopback ports in
threads (not profiled). Prints the top functions by cumulative time per request, and the wall time per
request with and without the profiler.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT)]  # bare.py; tests.support

import bare  # noqa: E402
import orjson  # noqa: E402
from overhead import POLICIES, model_env, policy_text  # noqa: E402

from llmvet.config import Settings  # noqa: E402
from llmvet.policy.loader import parse_policy  # noqa: E402
from llmvet.proxy.app import create_app  # noqa: E402
from tests.support.fake_registry import running_registry  # noqa: E402
from tests.support.servers import ThreadedServer  # noqa: E402


def request_body(answer: str) -> bytes:
    model = {"short": "bench-short", "distinct": "bench-distinct"}.get(answer, "bench-model")
    return orjson.dumps({"model": model, "messages": [{"role": "user", "content": "How do I read a CSV file?"}]})


async def call(app: Any, body: bytes) -> tuple[int, bytes]:
    """One POST /v1/chat/completions straight into the ASGI app."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/chat/completions",
        "raw_path": b"/v1/chat/completions",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"authorization", b"Bearer sk-bench"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent = False
    done = asyncio.Event()
    status, chunks = 0, []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                done.set()

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def profile_policy(name: str, upstream: str, registry: str, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(upstream=upstream, store=f"sqlite:///{tmp}/bench.db")
        app = create_app(settings, parse_policy(policy_text(name, registry), f"{name}.yaml"))
        body = request_body(args.answer)
        async with app.router.lifespan_context(app):
            await app.state.proxy._warm_up  # validators' start-up work (the embedding model) is done
            decisions: Counter[str] = Counter()
            for _ in range(50):  # warm caches (registry answers, code paths)
                status, out = await call(app, body)
                assert status == 200, out[:300]
                decisions[orjson.loads(out).get("llmvet", {}).get("decision", "allow (no llmvet field)")] += 1
            t0 = time.perf_counter()
            for _ in range(args.n):
                await call(app, body)
            plain = (time.perf_counter() - t0) / args.n * 1000
            prof = cProfile.Profile()
            t0 = time.perf_counter()
            prof.enable()
            for _ in range(args.n):
                await call(app, body)
            prof.disable()
            profiled = (time.perf_counter() - t0) / args.n * 1000
    print(f"\n=== {name} policy, {args.answer} answer: {plain:.3f} ms/request ({profiled:.3f} under cProfile) ===")
    print(f"decisions over the 50 warm-up answers: {dict(decisions)}")
    print(top_functions(pstats.Stats(prof), args.n, args.top))


def top_functions(stats: pstats.Stats, n: int, top: int) -> str:
    """The `top` functions by cumulative time, in microseconds per request."""
    rows = []
    for (path, line, func), (_, calls, _, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        where = f"{shorten(path)}:{line}({func})" if line else func
        rows.append((cumulative, calls, where))
    rows.sort(reverse=True)
    out = ["   us/req  calls/req  function (cumulative)"]
    out += [f"{cum / n * 1e6:9.1f}  {calls / n:9.1f}  {where}" for cum, calls, where in rows[:top]]
    return "\n".join(out)


def shorten(path: str) -> str:
    for marker in ("/src/llmvet/", "/site-packages/", "/lib/python3"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--answer", choices=["realistic", "short", "distinct"], default="realistic")
    ap.add_argument("--policy", choices=sorted(POLICIES), nargs="+", default=sorted(POLICIES, reverse=True))
    args = ap.parse_args()
    for k, v in model_env().items():
        os.environ.setdefault(k, v)
    with ThreadedServer(bare.upstream_app()) as up, running_registry() as reg:
        for name in args.policy:
            asyncio.run(profile_policy(name, up.url + "/v1", reg.url, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
