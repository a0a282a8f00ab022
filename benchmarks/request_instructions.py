"""Instructions per vetted request in llmvet's own process, counted by valgrind, tree against tree.

    python benchmarks/request_instructions.py [--requests 400] [--policy default] [--answer distinct] SRC [SRC ...]
    python benchmarks/request_instructions.py /tmp/before/src "$PWD/src"
    python benchmarks/request_instructions.py --with-floor "$PWD/src"   # + the floor and the lean guard

The default path's remaining cost is spread thin (tens of pieces of 2-15 µs each; see
benchmarks/default_path_budget.py), and on this two-core machine a timed run moves by 5-10 % with the
other processes' load, so a change worth 1-3 % of a request cannot be told from noise by the clock. The
number of user-space instructions a request executes barely moves. Each SRC runs the app of
`llmvet serve` in a child under `valgrind --tool=cachegrind --cache-sim=no` (hash seed fixed), called
directly as ASGI as benchmarks/profile_request.py does (no HTTP server in the count; the upstream call
is real, to the canned upstream of benchmarks/bare.py in another process, which is not counted): once
with the warm-up only and once with `--requests` more, and the difference per request is printed with
its ratio to the first SRC. The kernel's share (socket writes) is not counted, and neither are cache
misses: confirm a gain with benchmarks/overhead.py on a quiet machine; use this one to tell a real 1 %
from noise.

Work on a timer (the audit writer's 0.2 s flush, observe's 1 s rollup, the policy heartbeat) would be
counted by the wall time valgrind takes, which moves with the machine's load (same-tree counts 1.7 %
apart at load 4). Those timers are set to an hour once the app is warm, so the records reach the store
in batches of 256 (as at ~1,300 requests/s in service) and at shutdown, alike in both counts.

`--with-floor` first counts, in the same harness, the bare starlette + aiohttp pass-through of
benchmarks/bare.py (overhead.py's floor) and benchmarks/lean_guard.py (both bodies parsed, the secret
patterns, an audit line and a SQLite batch per answer): what a request costs with nothing vetted, and
with the least a guard doing the default policy's job does. The lean guard's writer wakes every 0.2 s
of wall time, so its count moves a little with the machine's load.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


async def baseline_requests(which: str, answer: str, n: int) -> None:
    """The floor or the lean guard (BENCH_UPSTREAM set), warmed with 50 requests, then `n` more."""
    from profile_request import call, request_body

    if which == "floor":
        from bare import aiohttp_app as factory
    else:
        from lean_guard import lean_guard_app as factory
    app = factory()
    body = request_body(answer)
    async with app.router.lifespan_context(app):
        for _ in range(50 + n):
            status, out = await call(app, body)
            if status != 200:
                raise SystemExit(f"HTTP {status}: {out[:300]!r}")


async def requests(policy: str, answer: str, upstream: str, registry: str, n: int) -> None:
    """The app built as `llmvet serve` builds it, warmed with 50 requests, then `n` more."""
    from overhead import policy_text
    from profile_request import call, request_body

    from llmvet.config import Settings
    from llmvet.policy.loader import parse_policy
    from llmvet.proxy.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(upstream=upstream, store=f"sqlite:///{tmp}/bench.db", policy_heartbeat_interval=3600)
        app = create_app(settings, parse_policy(rule_path_only(policy_text(policy, registry)), f"{policy}.yaml"))
        body = request_body(answer)
        async with app.router.lifespan_context(app):
            proxy = app.state.proxy
            await proxy._warm_up
            for _ in range(50):
                await call(app, body)
            quiet_timers(proxy)
            await asyncio.sleep(1.1)  # each timer wakes once more, then sleeps an hour
            for _ in range(n):
                status, out = await call(app, body)
                if status != 200:
                    raise SystemExit(f"HTTP {status}: {out[:300]!r}")


def rule_path_only(policy: str) -> str:
    """The policy with the uncertainty validator's embedding pass off: loading a model starts threads
    (torch's) whose instructions vary from run to run (same-tree counts 17 % apart with it). The
    answers measured all carry an uncertainty statement, so the pass would not run on them anyway."""
    import yaml

    doc = yaml.safe_load(policy)
    for rule in doc["rules"]:
        for v in rule["validators"]:
            if v["use"] == "uncertainty":
                v.setdefault("with", {})["embeddings"] = False
    return str(yaml.safe_dump(doc, sort_keys=False))


def quiet_timers(proxy: Any) -> None:
    from llmvet.observe.extension import ObserveExtension

    if proxy.rt.audit is not None:
        proxy.rt.audit._interval = 3600.0
    observe = proxy.extension(ObserveExtension)
    if observe is not None:
        observe.flush_interval = 3600.0


def count(src: str, args: argparse.Namespace, registry: str, n: int, baseline: str | None = None) -> int:
    """User-space instructions of the app's child process, `n` requests after the warm-up. Each count
    gets an upstream of its own, so "distinct" answers are served from the start of the pool in every
    count (with one upstream for all, each count read other answers: 1.4 % apart, coding-assistant)."""
    import overhead
    from cachegrind import instructions

    port = overhead.free_port()
    with tempfile.TemporaryDirectory() as tmp:
        upstream = overhead.serve(overhead.uvicorn_cmd("bare:upstream_app", port), port, Path(tmp) / "upstream.log")
        try:
            env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, str(HERE), str(ROOT)]), "PYTHONHASHSEED": "0"}
            # (both counts compile the cue databases, the same work: the difference leaves it out)
            env.update({"LLMVET_LOG_LEVEL": "warning", "HF_HUB_OFFLINE": "1"})
            env["BENCH_UPSTREAM"] = f"http://127.0.0.1:{port}/v1"  # (the floor's and the lean guard's)

            def child(requests: int) -> list[str]:
                return [__file__, "--inner", str(requests), "--policy", args.policy, "--answer", args.answer,
                        "--upstream", env["BENCH_UPSTREAM"], "--registry", registry,
                        *(["--baseline", baseline] if baseline else [])]  # fmt: skip

            subprocess.run([sys.executable, *child(0)], env=env, capture_output=True, check=True)
            ir, _ = instructions(child(n), env)
        finally:
            overhead.stop_all([upstream], Path(tmp) / "none")
    return ir


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src", nargs="*", default=[str(ROOT / "src")], help="src folders to compare (the first: base)")
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--policy", choices=["default", "coding-assistant"], default="default")
    ap.add_argument("--answer", choices=["distinct", "realistic", "short"], default="distinct")
    ap.add_argument("--rounds", type=int, default=1, help="counts per SRC (alternating); all are printed")
    ap.add_argument("--with-floor", action="store_true", help="also count the floor and the lean guard")
    ap.add_argument("--inner", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--baseline", choices=["floor", "lean"], help=argparse.SUPPRESS)
    ap.add_argument("--upstream", help=argparse.SUPPRESS)
    ap.add_argument("--registry", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.inner is not None:
        if a.baseline:
            asyncio.run(baseline_requests(a.baseline, a.answer, a.inner))
        else:
            asyncio.run(requests(a.policy, a.answer, a.upstream, a.registry, a.inner))
        return
    sys.path[:0] = [str(HERE), str(ROOT)]
    from tests.support.fake_registry import running_registry

    with running_registry() as fake_registry:
        registry = str(fake_registry.url)
        print(f"{a.policy} policy, {a.answer} answer: instructions per request (cachegrind), {a.requests} requests")
        base = None
        if a.with_floor:
            for which, label in (("floor", "floor (bare pass-through)"), ("lean", "lean guard")):
                per = (
                    count(a.src[0], a, registry, a.requests, which) - count(a.src[0], a, registry, 0, which)
                ) / a.requests
                print(f"  {label}: {per / 1e3:9.1f} k instructions a request", flush=True)
        for _ in range(a.rounds):
            for src in a.src:
                idle = count(src, a, registry, 0)
                busy = count(src, a, registry, a.requests)
                per = (busy - idle) / a.requests
                base = per if base is None else base
                print(f"  {src}: {per / 1e3:9.1f} k instructions a request, ratio {per / base:.4f}", flush=True)


if __name__ == "__main__":
    main()
