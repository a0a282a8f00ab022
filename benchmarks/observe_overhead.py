"""What metrics and drift bookkeeping cost per request: llmvet with them on vs the same llmvet with them off.

    python benchmarks/observe_overhead.py [--rounds 6] [--duration 3] [--concurrency 1 32]

Three `llmvet serve` processes in front of one bare upstream, identical but for LLMVET_METRICS=0 and
LLMVET_DRIFT=0 on two of them ("off" and "off2", an A/A control that shows the noise floor). wrk
drives them in short rotating rounds so machine noise hits all alike; the script prints medians over
rounds of each side's p50 latency and throughput, and the median of the per-round differences.
Then an in-process micro-benchmark times the exact per-request work (finish hook, middleware counter,
the background aggregation per record) without any network noise. Needs `wrk`.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))  # for tests.support
from overhead import LUA, cpu_seconds, llmvet_cmd, run_wrk, serve, stop_all, uvicorn_cmd  # noqa: E402

from tests.support.servers import free_port  # noqa: E402

RECORD = {
    "ts": 0.0,
    "request_id": "req_x",
    "route": "chat.completions",
    "model": "bench-model",
    "key": "0123456789ab",
    "key_label": None,
    "policy": "default",
    "policy_version": "abc",
    "rule": "default",
    "stream": False,
    "status": 200,
    "action": "allow",
    "validators": [{"validator": "secrets", "status": "passed", "risk": 0.0, "action": "allow", "ms": 0.05}],
    "findings": [],
    "reasks": 0,
    "extra_usage": {},
    "timings_ms": {"total": 1.2, "upstream": 1.0, "validate": 0.05},
    "upstream": "http://127.0.0.1:1/v1",
    "upstream_model": "bench-model",
    "response_chars": 420,
}


def micro(n: int = 50_000) -> dict[str, float]:
    """µs per request of each piece of bookkeeping, in-process."""
    from llmvet.observe import rollup
    from llmvet.observe.metrics import Metrics

    metrics = Metrics()
    roll = rollup.Rollup(store=None, bucket_seconds=300)  # type: ignore[arg-type]  # absorb() never touches it
    out = {}
    rec = dict(RECORD, ts=time.time())
    t = time.perf_counter()
    for _ in range(n):
        metrics.observe_record(rec)
    out["metrics: finish hook (per record)"] = (time.perf_counter() - t) / n * 1e6
    t = time.perf_counter()
    for _ in range(n):
        metrics.observe_request("/v1/chat/completions", "bench-model", 200, 0.001)
    out["metrics: middleware counter + histogram"] = (time.perf_counter() - t) / n * 1e6
    t = time.perf_counter()
    for _ in range(n):
        roll.add(rec)
    out["drift: queue the record (request path)"] = (time.perf_counter() - t) / n * 1e6
    t = time.perf_counter()
    roll.absorb()
    out["drift: aggregate one record (background)"] = (time.perf_counter() - t) / n * 1e6
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--duration", type=float, default=2.0)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    ap.add_argument("--policy", default=str(ROOT / "policies" / "default.yaml"))
    ap.add_argument("--micro-only", action="store_true")
    args = ap.parse_args()

    print("in-process cost per request (µs):")
    for name, us in micro().items():
        print(f"  {name:<44} {us:7.2f}")
    if args.micro_only:
        return 0
    if not shutil.which("wrk"):
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2

    tmp = Path(tempfile.mkdtemp(prefix="llmvet-obs-bench-"))
    script = tmp / "post.lua"
    script.write_text(LUA)
    log = tmp / "servers.log"
    ports = {name: free_port() for name in ("upstream", "on", "off", "off2")}
    upstream = f"http://127.0.0.1:{ports['upstream']}/v1"
    procs = [serve(uvicorn_cmd("bare:upstream_app", ports["upstream"]), ports["upstream"], log)]
    off = {"LLMVET_METRICS": "0", "LLMVET_DRIFT": "0"}
    switches = {"on": {}, "off": off, "off2": off}
    try:
        for side, env in switches.items():
            procs.append(
                serve(
                    llmvet_cmd(upstream, ports[side], args.policy, f"sqlite:///{tmp / side}.db"),
                    ports[side],
                    log,
                    {"LLMVET_LOG_LEVEL": "warning", **env},
                )
            )
        urls = {side: f"http://127.0.0.1:{ports[side]}" for side in switches}
        pids = {side: p.pid for side, p in zip(switches, procs[1:], strict=False)}
        for url in urls.values():
            run_wrk(url, 8, 1, script)  # warm up
        print(
            f"\nwrk, {args.rounds} alternating rounds of {args.duration:g} s per side "
            f"(medians over rounds; default policy):"
        )
        sides = list(switches)
        for c in args.concurrency:
            res: dict[str, list[dict[str, float]]] = {side: [] for side in sides}
            for i in range(args.rounds):
                for side in sides[i % 3 :] + sides[: i % 3]:  # rotate who goes first
                    before = cpu_seconds(pids[side])
                    r = run_wrk(urls[side], c, args.duration, script)
                    r["cpu"] = cpu_seconds(pids[side]) - before
                    r["n"] = r["rps"] * args.duration
                    res[side].append(r)
            for side in sides:
                print(
                    f"  c={c:<3} {side:<4}: p50 {statistics.median(r['p50'] for r in res[side]):.3f} ms  "
                    f"{statistics.median(r['rps'] for r in res[side]):7.0f} req/s"
                )

            def diff(a: str, b: str, key: str, res: dict[str, Any] = res) -> float:
                return statistics.median(x[key] - y[key] for x, y in zip(res[a], res[b], strict=False))

            def ratio(a: str, b: str, res: dict[str, Any] = res) -> float:
                return statistics.median(x["rps"] / y["rps"] for x, y in zip(res[a], res[b], strict=False))

            errors = sum(r["errors"] for side in sides for r in res[side])
            # CPU time the server spent per request (background work included): much less sensitive
            # to other load on the machine than latency is.
            cpu = {side: 1e6 * sum(r["cpu"] for r in res[side]) / sum(r["n"] for r in res[side]) for side in sides}
            print(
                f"  c={c:<3} server CPU per request: on {cpu['on']:.0f} µs, off {cpu['off']:.0f} µs, "
                f"off2 {cpu['off2']:.0f} µs  ->  metrics+drift {cpu['on'] - cpu['off']:+.0f} µs "
                f"(A/A {cpu['off2'] - cpu['off']:+.0f} µs)"
            )
            print(
                f"  c={c:<3} metrics+drift cost (on - off): p50 {1000 * diff('on', 'off', 'p50'):+.0f} µs, "
                f"throughput {ratio('on', 'off'):.3f}x"
            )
            print(
                f"  c={c:<3} noise floor (off2 - off):       p50 {1000 * diff('off2', 'off', 'p50'):+.0f} µs, "
                f"throughput {ratio('off2', 'off'):.3f}x   (errors {errors})"
            )
    finally:
        stop_all(procs, tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
