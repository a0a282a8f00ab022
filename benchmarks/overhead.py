"""Proxy overhead: the upstream directly, bare pass-throughs, and llmvet, in one run, driven by wrk.

    python benchmarks/overhead.py [--duration 5] [--concurrency 1 32 128] [--with-httpx] [--with-tracing]

Prints requests/s and p50/p95/p99 latency per target and concurrency, and llmvet's ratios against the
bare aiohttp pass-through measured in the same run. `--with-tracing` adds a second llmvet exporting
every span over OTLP (the `otlp` extra) to a sink collector, and prints its cost against llmvet with
tracing off. Needs `wrk` (apt-get install -y wrk).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # for tests.support
from tests.support.servers import free_port, wait_port  # noqa: E402

LUA = """
wrk.method = "POST"
wrk.body = '{"model":"bench-model","messages":[{"role":"user","content":"How do I read a CSV file in Python?"}]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %.1f %.1f %.1f %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout))
end
"""


def serve(args: list[str], port: int, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    pythonpath = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))
    with log.open("ab") as sink:  # a file, not a pipe: an unread pipe would stall a chatty server
        proc = subprocess.Popen(
            args, env={**os.environ, "PYTHONPATH": pythonpath, **(env or {})}, stdout=sink, stderr=subprocess.STDOUT
        )
    try:
        wait_port(port, 30)
    except RuntimeError:
        proc.kill()
        raise RuntimeError(f"{args} did not start:\n{log.read_text()[-2000:]}") from None
    return proc


def llmvet_cmd(upstream: str, port: int, policy: str | Path, store: str) -> list[str]:
    """`llmvet serve` as the benchmarks start it."""
    return [sys.executable, "-m", "llmvet", "serve", "--upstream", upstream, "--port", str(port),
            "--policy", str(policy), "--store", store]  # fmt: skip


def stop_all(procs: list[subprocess.Popen], tmp: Path) -> None:
    """Stop the servers a benchmark started and remove its scratch folder."""
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(10)
    shutil.rmtree(tmp, ignore_errors=True)


def uvicorn_cmd(target: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        target,
        "--factory",
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--log-level",
        "warning",
        "--no-access-log",
    ]


def run_wrk(url: str, concurrency: int, duration: float, script: Path) -> dict[str, float]:
    threads = 1 if concurrency == 1 else 2
    out = subprocess.run(
        [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(concurrency),
            "-d",
            f"{max(1, round(duration))}s",
            "-s",
            str(script),
            url + "/v1/chat/completions",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    m = re.search(r"RESULT (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+) (\d+)", out)
    if not m:
        raise RuntimeError(f"could not parse wrk output:\n{out}")
    n, dur_us, p50, p95, p99, errors = m.groups()
    return {
        "rps": int(n) / (int(dur_us) / 1e6),
        "p50": float(p50) / 1000,
        "p95": float(p95) / 1000,
        "p99": float(p99) / 1000,
        "errors": int(errors),
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


TRACED = "llmvet, spans over OTLP"


def start_traced(policy: str, upstream_url: str, ports: dict[str, int], tmp: Path, log: Path) -> list[subprocess.Popen]:
    """A sink collector, and llmvet exporting every span to it (configured by OTEL_* variables only)."""
    sink = serve(uvicorn_cmd("bare:otlp_sink_app", ports["sink"]), ports["sink"], log)
    env = {
        "LLMVET_LOG_LEVEL": "warning",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{ports['sink']}",
        "OTEL_SERVICE_NAME": "llmvet-bench",
    }
    store = f"sqlite:///{tmp / 'traced.db'}"
    return [sink, serve(llmvet_cmd(upstream_url, ports["traced"], policy, store), ports["traced"], log, env)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds per target; medians are reported")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 32, 128])
    ap.add_argument("--with-httpx", action="store_true", help="also measure a bare httpx pass-through")
    ap.add_argument("--with-tracing", action="store_true", help="also measure llmvet exporting spans over OTLP")
    ap.add_argument("--policy", default=str(ROOT / "policies" / "default.yaml"))
    args = ap.parse_args()
    if not shutil.which("wrk"):
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2

    tmp = Path(tempfile.mkdtemp(prefix="llmvet-bench-"))
    script = tmp / "post.lua"
    script.write_text(LUA)
    ports = {name: free_port() for name in ("upstream", "aiohttp", "httpx", "llmvet", "traced", "sink")}
    upstream_url = f"http://127.0.0.1:{ports['upstream']}/v1"
    env = {"BENCH_UPSTREAM": upstream_url}
    log = tmp / "servers.log"
    procs = [serve(uvicorn_cmd("bare:upstream_app", ports["upstream"]), ports["upstream"], log)]
    targets = {"upstream (direct)": f"http://127.0.0.1:{ports['upstream']}"}
    pids = {"upstream (direct)": procs[0].pid}
    try:
        procs.append(serve(uvicorn_cmd("bare:aiohttp_app", ports["aiohttp"]), ports["aiohttp"], log, env))
        targets["bare aiohttp pass-through"] = f"http://127.0.0.1:{ports['aiohttp']}"
        pids["bare aiohttp pass-through"] = procs[-1].pid
        if args.with_httpx:
            procs.append(serve(uvicorn_cmd("bare:httpx_app", ports["httpx"]), ports["httpx"], log, env))
            targets["bare httpx pass-through"] = f"http://127.0.0.1:{ports['httpx']}"
            pids["bare httpx pass-through"] = procs[-1].pid
        procs.append(
            serve(
                llmvet_cmd(upstream_url, ports["llmvet"], args.policy, f"sqlite:///{tmp / 'bench.db'}"),
                ports["llmvet"],
                log,
                {"LLMVET_LOG_LEVEL": "warning"},
            )
        )
        targets["llmvet (default policy)"] = f"http://127.0.0.1:{ports['llmvet']}"
        pids["llmvet (default policy)"] = procs[-1].pid
        if args.with_tracing:
            procs += start_traced(args.policy, upstream_url, ports, tmp, log)
            targets[TRACED] = f"http://127.0.0.1:{ports['traced']}"
            pids[TRACED] = procs[-1].pid

        results: dict[tuple[str, int], dict[str, float]] = {}
        for url in targets.values():  # warm up connections and code paths
            run_wrk(url, 8, 1, script)
        print(
            f"{args.rounds} alternating rounds of {args.duration:g}s per target; medians. cpu = the server "
            "process's CPU per request (less sensitive to other load than req/s)\n"
        )
        for c in args.concurrency:
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
            for _ in range(args.rounds):
                for name, url in targets.items():
                    before = cpu_seconds(pids[name])
                    r = run_wrk(url, c, args.duration, script)
                    r["cpu_ms"] = (cpu_seconds(pids[name]) - before) * 1000 / max(r["rps"] * args.duration, 1)
                    runs[name].append(r)
            for name in targets:
                r = results[(name, c)] = {k: statistics.median([x[k] for x in runs[name]]) for k in runs[name][0]}
                print(
                    f"c={c:<4} {name:<28} {r['rps']:9.0f} req/s  p50 {r['p50']:7.2f} ms  p95 {r['p95']:7.2f} ms"
                    f"  p99 {r['p99']:7.2f} ms  cpu {r['cpu_ms']:.3f} ms/req  errors {r['errors']:.0f}",
                    flush=True,
                )
        print()
        base, ours = "bare aiohttp pass-through", "llmvet (default policy)"
        for c in args.concurrency:
            b, o = results[(base, c)], results[(ours, c)]
            print(
                f"c={c:<4} llmvet / bare aiohttp: throughput {o['rps'] / b['rps']:.2f}x, "
                f"p50 +{o['p50'] - b['p50']:.2f} ms ({o['p50']:.2f} vs {b['p50']:.2f}), "
                f"cpu/req {o['cpu_ms'] / b['cpu_ms']:.2f}x ({o['cpu_ms']:.3f} vs {b['cpu_ms']:.3f} ms)"
            )
            if args.with_httpx:
                h = results[("bare httpx pass-through", c)]
                print(f"       bare httpx / bare aiohttp: throughput {h['rps'] / b['rps']:.2f}x")
            if args.with_tracing:
                t = results[(TRACED, c)]
                print(
                    f"       tracing on / off: cpu/req {t['cpu_ms'] / o['cpu_ms']:.2f}x "
                    f"({t['cpu_ms']:.3f} vs {o['cpu_ms']:.3f} ms), throughput {t['rps'] / o['rps']:.2f}x, "
                    f"p50 +{t['p50'] - o['p50']:.2f} ms"
                )
    finally:
        stop_all(procs, tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
