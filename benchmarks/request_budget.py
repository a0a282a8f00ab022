"""Where each microsecond of a vetted request goes, against the bare pass-through, from live servers.

    python benchmarks/request_budget.py [--policy default] [--answer realistic] [--concurrency 32]
        [--duration 10] [--src DIR]

Starts the canned upstream, the bare starlette + aiohttp pass-through and `llmvet serve` (as
benchmarks/overhead.py does), drives each with wrk while py-spy samples it (non-blocking, so the server
runs at full speed), and splits each server's CPU per request into categories by the deepest frame of
each sample: uvicorn, the event loop, routing, the upstream call, parsing, the validators, the policy
engine, the audit record and its write, metrics, observe, tracing, logging. Needs `wrk` and `py-spy`
(pip install py-spy; not a dependency of llmvet). Samples of the SQLite thread waiting for work are
left out (py-spy counts that wait as running).
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from overhead import (  # noqa: E402
    cpu_seconds,
    free_port,
    llmvet_cmd,
    lua_for,
    policy_text,
    run_wrk,
    serve,
    stop_all,
    uvicorn_cmd,
    wait_ready,
)

IDLE = r"_connection_worker_thread \(aiosqlite/core.py:59\)$"  # the SQLite thread blocked on its queue
HEADER_WORK = r"check_headers|key_identity|upstream_headers|forward_req|_named_in_conn|datastructures.py|HTTPConnection"
# (category, frame pattern): a sample goes to the first category matching its deepest frame that matches any
CATEGORIES = [
    ("audit write (SQLite thread, writer task)", r"_connection_worker_thread|AuditLog\._run|write_now|SQLiteStore\."),
    ("logging", r"^Logger\.|logging/__init__"),
    ("tracing facade", r"llmvet/spans.py|llmvet/proxy/tracing.py|opentelemetry"),
    ("metrics (prometheus-client)", r"prometheus_client|Metrics\.|observe/metrics.py"),
    ("observe: record hook, rollup, background", r"ObserveExtension\.|Rollup\.|observe/rollup.py|Heartbeat|drift"),
    ("observe: middleware, provenance headers", r"ObserveMiddleware"),
    ("audit record build", r"audit_record|_with_meta|ValidatorRun\.to_dict|Finding\.to_dict"),
    ("validators", r"llmvet/validators/(?!base)|re2/"),
    ("policy engine (evaluate, timeouts, runs)", r"llmvet/policy/|asyncio/timeouts.py|Vetter\.decide|Vetter\.context"),
    ("response JSON parse, answer text", r"json_object|without_llmvet_field|llmvet/proxy/wires/"),
    ("render (decision headers, Response)", r"Renderer\.|starlette/responses.py"),
    ("upstream call (aiohttp)", r"aiohttp/|Upstream\.|response_headers"),
    ("request headers (limits, key hash, forwarding)", HEADER_WORK),
    ("request body read, JSON parse", r"read_body|request_object|Request\.body|Request\.stream"),
    ("disconnect watcher", r"until_disconnected"),
    ("routing, middleware chain", r"ProxyApp|asgi_endpoint|starlette/|DrainMiddleware|ProxyHeadersMiddleware|bare.py"),
    ("llmvet handler (endpoint, vetting loop, Exchange)", r"llmvet/"),
    ("uvicorn (HTTP parse, send)", r"uvicorn/protocols"),
    ("event loop, sockets", r"Runner\.run|asyncio/|uvloop"),
]
_COMPILED = [(name, re.compile(rx)) for name, rx in CATEGORIES]
_PATH = re.compile(r"\(.*?(site-packages/|src/|python3\.\d+/)")


def categorize(raw: Path) -> collections.Counter[str]:
    """Samples per category from py-spy's raw (collapsed stacks) output."""
    out: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [_PATH.sub("(", f) for f in stack.split(";")]
        if re.search(IDLE, frames[-1]):
            continue
        got = "other"
        for frame in reversed(frames):
            got = next((name for name, rx in _COMPILED if rx.search(frame)), "")
            if got:
                break
        out[got or "other"] += int(count)
    return out


def sample(name: str, url: str, pid: int, script: Path, args: argparse.Namespace, tmp: Path) -> tuple[float, Path]:
    """wrk against one server while py-spy samples it: (CPU ms per request, py-spy output)."""
    raw = tmp / f"{name}.txt"
    spy = ["py-spy", "record", "-p", str(pid), "-d", str(args.duration), "-r", "997", "-f", "raw", "-o", str(raw)]
    spy.append("--nonblocking")
    run_wrk(url, 8, 1, script)  # warm up
    before = cpu_seconds(pid)
    result: dict[str, float] = {}
    load = threading.Thread(target=lambda: result.update(run_wrk(url, args.concurrency, args.duration + 2, script)))
    load.start()
    subprocess.run(spy, check=True, capture_output=True)
    load.join()
    cpu_ms = (cpu_seconds(pid) - before) * 1000 / (result["rps"] * (args.duration + 2))
    return cpu_ms, raw


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--policy", default="default", choices=["default", "coding-assistant"])
    ap.add_argument("--answer", default="realistic", choices=["short", "realistic"])
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--duration", type=int, default=10, help="seconds sampled per server")
    ap.add_argument("--src", help="run llmvet from this source tree (its src/ folder)")
    args = ap.parse_args()
    if not shutil.which("wrk") or not shutil.which("py-spy"):
        print("needs wrk (apt-get install -y wrk) and py-spy (pip install py-spy)", file=sys.stderr)
        return 2
    from tests.support.fake_registry import running_registry

    tmp = Path(tempfile.mkdtemp(prefix="llmvet-budget-"))
    script, log = tmp / "load.lua", tmp / "servers.log"
    script.write_text(lua_for(args.answer))
    up_port, bare_port, port = free_port(), free_port(), free_port()
    upstream = f"http://127.0.0.1:{up_port}/v1"
    procs = [serve(uvicorn_cmd("bare:upstream_app", up_port), up_port, log)]
    try:
        procs.append(serve(uvicorn_cmd("bare:aiohttp_app", bare_port), bare_port, log, {"BENCH_UPSTREAM": upstream}))
        with running_registry() as registry:
            policy = tmp / "policy.yaml"
            policy.write_text(policy_text(args.policy, registry.url))
            env = {"LLMVET_LOG_LEVEL": "warning"}
            if args.src:
                env["PYTHONPATH"] = os.pathsep.join([str(Path(args.src).resolve()), os.environ.get("PYTHONPATH", "")])
            procs.append(serve(llmvet_cmd(upstream, port, policy, f"sqlite:///{tmp / 'a.db'}"), port, log, env))
            wait_ready(f"http://127.0.0.1:{port}")
            runs = {
                "bare": sample("bare", f"http://127.0.0.1:{bare_port}", procs[1].pid, script, args, tmp),
                "llmvet": sample("llmvet", f"http://127.0.0.1:{port}", procs[2].pid, script, args, tmp),
            }
        report(runs, args)
    finally:
        stop_all(procs, tmp)
    return 0


def report(runs: dict[str, tuple[float, Path]], args: argparse.Namespace) -> None:
    counts = {name: categorize(raw) for name, (_, raw) in runs.items()}
    print(f"{args.policy} policy, {args.answer} answer, {args.concurrency} connections; CPU us per request")
    print(f"{'':<52}{'bare':>8}{'llmvet':>9}")
    for name in [c for c, _ in CATEGORIES] + ["other"]:
        cells = []
        for run, (cpu_ms, _) in runs.items():
            total = sum(counts[run].values()) or 1
            cells.append(cpu_ms * 1000 * counts[run][name] / total)
        if any(c >= 0.05 for c in cells):
            print(f"{name:<52}" + "".join(f"{c:8.1f} " for c in cells))
    print(f"{'total':<52}" + "".join(f"{cpu_ms * 1000:8.1f} " for cpu_ms, _ in runs.values()))


if __name__ == "__main__":
    sys.exit(main())
