"""What one streamed event costs the proxy's own code: back to back, and after an idle gap.

    python benchmarks/stream_event_cost.py [--events 300] [--answers 7] [--gap 0.002] [--before-src DIR]

A serving process sleeps between a model's events (20 ms apart; 2 ms in the CPU figure of
benchmarks/streaming.py) while other processes run, so each event starts with cold caches. The same
per-event code then costs several times its tight-loop time: this is why incremental's extra work
measured about 5 us per event here in a loop but 35-40 us per event in `llmvet serve`.

Per event, with the thread's own CPU clock, for the default policy's rule:
- parse: `SSEParser.feed`, which every streamed mode does;
- passthrough: what the passthrough relay adds between the upstream read and the client write
  (`scrubbed_events`: parse, drop `llmvet` fields, keep the event for the audit);
- incremental: `IncrementalRun.take_chunk` and the join of what it releases (parse, segment checks,
  release).
Each is timed back to back and with `--gap` seconds of sleep before every event. No network: the app
is built in process for its runtime, and the events are handed over as bytes, one a read.
--before-src DIR runs the same measurement on another source tree too, alternating with this one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT)]

import orjson  # noqa: E402
from streaming import prose_events  # noqa: E402

from llmvet.config import Settings  # noqa: E402
from llmvet.policy.loader import parse_policy  # noqa: E402
from llmvet.proxy import sse  # noqa: E402
from llmvet.proxy.app import create_app  # noqa: E402
from llmvet.proxy.exchange import Exchange  # noqa: E402
from llmvet.proxy.incremental_run import IncrementalRun  # noqa: E402
from llmvet.proxy.passthrough import scrubbed_events  # noqa: E402
from llmvet.proxy.wires import WIRES  # noqa: E402

KINDS = ("parse", "passthrough", "incremental")
tt = time.thread_time


def chunks(events: int) -> list[bytes]:
    """The prose stream's events as the upstream sends them, without the closing ones (held to the end)."""
    return [b"data: " + orjson.dumps(e) + b"\n\n" for e in prose_events(events)[:-2]]


async def one_answer(kind: str, proxy: Any, raw: list[bytes], gap: float) -> float:
    """Microseconds of CPU per event for one answer."""
    spent = 0.0
    if kind == "parse":
        parser = sse.SSEParser()
        for c in raw:
            if gap:
                time.sleep(gap)
            t = tt()
            parser.feed(c)
            spent += tt() - t
    elif kind == "passthrough":

        async def reads() -> AsyncIterator[bytes]:
            for c in raw:
                yield c

        relay = scrubbed_events(reads(), [])
        for _ in raw:
            if gap:
                time.sleep(gap)
            t = tt()
            await relay.__anext__()
            spent += tt() - t
    else:
        wire = WIRES["chat.completions"]
        body = {"model": "bench", "stream": True, "messages": [{"role": "user", "content": "Rivers?"}]}
        rule = proxy.rt.policy.select(None, "bench", wire.route)
        ex = Exchange("bench", wire, rule, body, {}, True, None, None, proxy.rt.policy)
        run = IncrementalRun(proxy.rt, proxy.vetter, proxy.render, ex)
        for c in raw:
            if gap:
                time.sleep(gap)
            t = tt()
            b"".join(await run.take_chunk(c))
            spent += tt() - t
        assert run.released >= len(raw) - 2, "the prose should flow"
    return spent / len(raw) * 1e6


async def measure(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    policy = (ROOT / "policies" / "default.yaml").read_text()
    raw = chunks(args.events)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(upstream="http://127.0.0.1:9/v1", store=f"sqlite:///{tmp}/bench.db")
        app = create_app(settings, parse_policy(policy, "default.yaml"))
        async with app.router.lifespan_context(app):
            proxy = app.state.proxy
            rows: dict[str, list[float]] = {f"{k} {w}": [] for w in ("warm", "gap") for k in KINDS}
            for _ in range(args.answers):  # alternate, so load drifts hit all alike
                for kind in KINDS:
                    rows[f"{kind} warm"].append(await one_answer(kind, proxy, raw, 0.0))
                    rows[f"{kind} gap"].append(await one_answer(kind, proxy, raw, args.gap))
    return {k: {"median": statistics.median(v), "min": min(v)} for k, v in rows.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=300)
    ap.add_argument("--answers", type=int, default=7)
    ap.add_argument("--gap", type=float, default=0.002, help="seconds of sleep before each event")
    ap.add_argument("--before-src", help="also measure this source tree (its src/ folder)")
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.json:
        print(json.dumps(asyncio.run(measure(args))))
        return 0
    trees = {"this tree": None, "before": args.before_src} if args.before_src else {"this tree": None}
    results: dict[str, list[dict[str, dict[str, float]]]] = {t: [] for t in trees}
    for _ in range(3):  # each tree in its own process, alternating
        for name, src in trees.items():
            env = {**os.environ, "PYTHONPATH": str(Path(src).resolve()) if src else str(ROOT / "src")}
            argv = [sys.executable, __file__, "--json", "--events", str(args.events), "--answers", str(args.answers)]
            out = subprocess.run([*argv, "--gap", str(args.gap)], env=env, capture_output=True, check=True, text=True)
            results[name].append(json.loads(out.stdout))
    print(f"us of CPU per event, medians of 3 processes x {args.answers} answers of {args.events} events; "
          f"gap: {args.gap * 1000:.1f} ms idle before each event; load {os.getloadavg()[0]:.2f}")  # fmt: skip
    print(f"{'':18}" + "".join(f"{t:>14}" for t in trees))
    for key in results["this tree"][0]:
        cells = [statistics.median(r[key]["median"] for r in results[t]) for t in trees]
        print(f"{key:18}" + "".join(f"{c:14.1f}" for c in cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
