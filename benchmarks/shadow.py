"""CPU cost of a shadow policy: llmvet with and without a shadow equal to the live policy, in one run.

    python benchmarks/shadow.py [--duration 8] [--concurrency 16] [--policy policies/default.yaml]

Prints requests/s, p50 and the llmvet process's CPU per request for three runs — unvetted (a rule
with no validators: llmvet forwards without vetting), live only, live + shadow — and two ratios: the
shadow's extra CPU per request against the live run's whole CPU per request, and against the live
policy's own vetting cost (live minus unvetted), which is what a shadow equal to the live policy
repeats. Also the shadow's checked/dropped counts. Needs `wrk`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import httpx
from overhead import LUA, cpu_seconds, run_wrk, serve, stop_all, uvicorn_cmd  # type: ignore[import-not-found]

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.support.servers import free_port  # noqa: E402


def measure(cmd: list[str], port: int, log: Path, args: argparse.Namespace, script: Path) -> dict[str, float]:
    proc = serve(cmd, port, log, {"LLMVET_LOG_LEVEL": "warning"})
    try:
        url = f"http://127.0.0.1:{port}"
        run_wrk(url, 8, 1, script)  # warm up
        before = cpu_seconds(proc.pid)
        r = run_wrk(url, args.concurrency, args.duration, script)
        r["cpu_ms_per_request"] = (cpu_seconds(proc.pid) - before) * 1000 / (r["rps"] * round(args.duration))
        shadow = httpx.get(url + "/readyz").json().get("shadow") or {}
        r["checked"], r["dropped"] = shadow.get("checked", 0), shadow.get("dropped", 0)
        return r
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=8)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--policy", default=str(ROOT / "policies" / "default.yaml"))
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="llmvet-shadow-bench-"))
    log, script = tmp / "servers.log", tmp / "bench.lua"
    script.write_text(LUA)
    up = free_port()
    upstream = f"http://127.0.0.1:{up}/v1"
    procs = [serve(uvicorn_cmd("bare:upstream_app", up), up, log)]
    try:
        runs = {}
        unvetted = tmp / "unvetted.yaml"
        unvetted.write_text("name: unvetted\nrules:\n  - name: none\n    validators: []\n")
        for name, policy, extra in (
            ("unvetted", str(unvetted), []),
            ("live only", args.policy, []),
            ("live + shadow", args.policy, ["--shadow-policy", args.policy]),
        ):
            port = free_port()
            cmd = [sys.executable, "-m", "llmvet", "serve", "--upstream", upstream, "--port", str(port)]
            cmd += ["--policy", policy, "--store", f"sqlite:///{tmp / (str(port) + '.db')}", *extra]
            runs[name] = measure(cmd, port, log, args, script)
    finally:
        stop_all(procs, tmp)
    for name, r in runs.items():
        print(
            f"{name}: {r['rps']:.0f} req/s, p50 {r['p50']:.1f} ms, CPU {r['cpu_ms_per_request']:.3f} ms/request, "
            f"shadow checked {r['checked']} dropped {r['dropped']}, errors {r['errors']}"
        )
    live, both = runs["live only"], runs["live + shadow"]
    extra = both["cpu_ms_per_request"] - live["cpu_ms_per_request"]
    print(f"shadow's extra CPU per request / live CPU per request: {extra / live['cpu_ms_per_request']:.3f}")
    vetting = live["cpu_ms_per_request"] - runs["unvetted"]["cpu_ms_per_request"]
    if vetting > 0:
        print(f"shadow's extra CPU per request / live vetting CPU (live - unvetted): {extra / vetting:.3f}")
    else:
        print("live vetting CPU not above the unvetted run's: noise dominates; run longer")
    print(f"p50 ratio (with / without shadow): {both['p50'] / live['p50']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
