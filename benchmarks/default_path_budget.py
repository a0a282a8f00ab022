"""Where llmvet's CPU per request goes under the default policy, by ablation (not by a profiler).

    python benchmarks/default_path_budget.py [--concurrency 32] [--duration 3] [--rounds 3]
        [--only NAME ...] [--src DIR]

Starts an upstream that gives every request a distinct ~1 KB coding answer (benchmarks/distinct.py:
every text is read once, as a serving process reads it), the bare starlette + aiohttp
pass-through, and one `llmvet serve` per ablation: the same server with one piece of the request path
switched off by a monkeypatch applied in that process before the app is built. wrk drives each in
alternating rounds; the server's CPU per request (utime + stime from /proc over the run) is the
measure. A piece's cost is the full server's CPU per request minus that of the server without it.
Pieces overlap (e.g. `record` includes `auditlog` and the observe record hook), so the costs do not add
up exactly; the table is a budget, not a partition. Needs `wrk`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from overhead import (  # noqa: E402
    POLICIES,
    cpu_seconds,
    free_port,
    lua_for,
    run_wrk,
    serve,
    stop_all,
    uvicorn_cmd,
    wait_ready,
)

# ---- the ablations (run inside the server process) -------------------------------------------------------


def _off_observe() -> None:
    import llmvet.proxy.app as app

    load = app.load_extensions

    def without_observe(proxy):  # type: ignore[no-untyped-def]
        load(proxy)
        from llmvet.observe.extension import ObserveExtension

        kept = [e for e in proxy.extensions if not isinstance(e, ObserveExtension)]
        proxy.extensions[:] = kept
        proxy.rt.record_hooks[:] = [h for h in proxy.rt.record_hooks if not isinstance(h.__self__, ObserveExtension)]

    app.load_extensions = without_observe


def _off_metrics() -> None:
    os.environ["LLMVET_METRICS"] = "0"
    os.environ["LLMVET_DRIFT"] = "0"


def _off_record() -> None:
    import llmvet.proxy.render as render
    from llmvet import spans

    def finish(rt, ex, answer, decision, status, final_action=None):  # type: ignore[no-untyped-def]
        spans.set_current({"llmvet.decision": final_action or decision.action, "llmvet.reasks": ex.reasks})

    render.finish = finish


def _off_auditlog() -> None:
    from llmvet.audit import AuditLog

    AuditLog.record = lambda self, rec: None  # type: ignore[method-assign]


def _off_journal() -> None:
    os.environ["LLMVET_AUDIT_JOURNAL"] = "off"


def _off_drain() -> None:
    from llmvet.proxy.drain import Drain

    async def counted(self, app, scope, receive, send, *, refuse):  # type: ignore[no-untyped-def]
        await app(scope, receive, send)

    Drain.counted = counted  # type: ignore[method-assign]


def _off_watcher() -> None:
    from llmvet.proxy.client import Disconnects

    async def until_disconnected(self, request, work):  # type: ignore[no-untyped-def]
        return await work

    Disconnects.until_disconnected = until_disconnected  # type: ignore[method-assign]


def _off_engine() -> None:
    from llmvet.policy.engine import Decision
    from llmvet.proxy.vetting import Vetter

    async def decide(self, ex, answer):  # type: ignore[no-untyped-def]
        return Decision("allow", ex.rule.name, [])

    Vetter.decide = decide  # type: ignore[method-assign]


def _off_regex() -> None:
    from llmvet.validators.base import Verdict
    from llmvet.validators.regex import RegexValidator

    async def check(self, ctx):  # type: ignore[no-untyped-def]
        return Verdict.passed()

    RegexValidator.check = check  # type: ignore[method-assign]


def _off_resp_parse() -> None:
    import llmvet.proxy.vetting as vetting

    parse, memo = vetting.json_object, {}

    def json_object(raw):  # type: ignore[no-untyped-def]
        if "d" not in memo:  # the first answer parsed once, then reused (its text with it)
            memo["d"] = parse(raw)
        return memo["d"]

    vetting.json_object = json_object


def _off_req_parse() -> None:
    import llmvet.proxy.app as app

    parse, memo = app.request_object, {}

    def request_object(raw):  # type: ignore[no-untyped-def]
        if raw not in memo:
            memo[raw] = parse(raw)
        return memo[raw]

    app.request_object = request_object


def _off_render() -> None:
    from starlette.responses import Response

    import llmvet.proxy.render as render

    finish = render.finish

    async def act(self, ex, answer, decision):  # type: ignore[no-untyped-def]
        response = Response(answer.raw, 200, media_type="application/json")
        finish(self.rt, ex, answer, decision, 200)
        return response

    render.Renderer.act = act  # type: ignore[method-assign]


def _off_headers() -> None:
    from llmvet.proxy.runtime import Runtime

    memo: dict[str, object] = {}
    upstream_headers = Runtime.upstream_headers

    def cached(self, request, key_hash, *, vetted=True):  # type: ignore[no-untyped-def]
        if "h" not in memo:
            memo["h"] = upstream_headers(self, request, key_hash, vetted=vetted)
        return memo["h"].copy()  # type: ignore[attr-defined]

    Runtime.upstream_headers = cached  # type: ignore[method-assign]
    Runtime.check_headers = lambda self, request: None  # type: ignore[method-assign]


def _off_tracing() -> None:
    import contextlib

    from llmvet import spans

    spans.span = lambda *a, **k: contextlib.nullcontext()  # type: ignore[assignment]
    spans.set_current = lambda attributes: None  # type: ignore[assignment]
    import llmvet.proxy.tracing as tracing

    tracing.inject_context = lambda headers: None  # type: ignore[assignment]
    tracing.upstream_call = lambda *a, **k: contextlib.nullcontext()  # type: ignore[assignment]
    tracing.upstream_status = lambda call, status: None  # type: ignore[assignment]
    tracing.start_request = lambda *a: None  # type: ignore[assignment]


ABLATIONS: dict[str, tuple[str, Callable[[], None]]] = {
    "observe": ("observe extension (metrics, provenance, middleware, hook)", _off_observe),
    "metrics": ("prometheus metrics + drift rollup (LLMVET_METRICS/DRIFT=0)", _off_metrics),
    "record": ("audit record build + audit log + record hooks", _off_record),
    "auditlog": ("AuditLog.record (journal write, queue, writer)", _off_auditlog),
    "journal": ("audit journal file write (LLMVET_AUDIT_JOURNAL=off)", _off_journal),
    "drain": ("drain counting", _off_drain),
    "watcher": ("disconnect watcher (until_disconnected)", _off_watcher),
    "engine": ("policy engine + validator (decide)", _off_engine),
    "regex": ("regex validator check", _off_regex),
    "resp_parse": ("response JSON parse (orjson.loads)", _off_resp_parse),
    "req_parse": ("request JSON parse", _off_req_parse),
    "render": ("render: decision headers, header merge", _off_render),
    "headers": ("request headers: limit check, forwarding", _off_headers),
    "tracing": ("tracing facade (spans with no SDK)", _off_tracing),
}


def serve_ablated(name: str, argv: list[str]) -> int:
    if name in ABLATIONS:
        ABLATIONS[name][1]()
    from llmvet.cli import main

    return main(argv)


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "--serve":
        return serve_ablated(sys.argv[2], sys.argv[3:])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", nargs="+", choices=sorted(ABLATIONS), help="these ablations only")
    ap.add_argument("--src", help="run llmvet from this source tree (its src/ folder)")
    ap.add_argument("--before-src", help="also run llmvet, whole, from this source tree (target `before`)")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="llmvet-budget-"))
    script = tmp / "distinct.lua"
    script.write_text(lua_for("distinct"))
    log = tmp / "servers.log"
    port = free_port()
    upstream = f"http://127.0.0.1:{port}/v1"
    procs = [serve(uvicorn_cmd("bare:upstream_app", port), port, log)]
    targets: dict[str, tuple[str, int]] = {}
    try:
        port = free_port()
        procs.append(serve(uvicorn_cmd("bare:aiohttp_app", port), port, log, {"BENCH_UPSTREAM": upstream}))
        targets["floor"] = (f"http://127.0.0.1:{port}", procs[-1].pid)
        env = {"LLMVET_LOG_LEVEL": "warning"}
        if args.src:
            env["PYTHONPATH"] = os.pathsep.join([str(Path(args.src).resolve()), str(HERE)])
        names = ["full", *(["before"] if args.before_src else []), *(args.only or ABLATIONS)]
        for name in names:
            port = free_port()
            if name == "before":
                env_of = {**env, "PYTHONPATH": os.pathsep.join([str(Path(args.before_src).resolve()), str(HERE)])}
            else:
                env_of = env
            cmd = [sys.executable, str(Path(__file__).resolve()), "--serve", name, "serve", "--upstream", upstream,
                   "--port", str(port), "--policy", str(POLICIES["default"]),
                   "--store", f"sqlite:///{tmp / f'{name}.db'}"]  # fmt: skip
            procs.append(serve(cmd, port, log, {**env_of, "LLMVET_AUDIT_JOURNAL": str(tmp / f"journal-{name}")}))
            targets[name] = (f"http://127.0.0.1:{port}", procs[-1].pid)
        for name, (url, _) in targets.items():
            if name != "floor":
                wait_ready(url)
            run_wrk(url, 8, 1, script)  # warm up
        runs: dict[str, list[float]] = {name: [] for name in targets}
        rps: dict[str, list[float]] = {name: [] for name in targets}
        p95: dict[str, list[float]] = {name: [] for name in targets}
        for _ in range(args.rounds):
            for name, (url, pid) in targets.items():
                before = cpu_seconds(pid)
                try:
                    r = run_wrk(url, args.concurrency, args.duration, script)
                except subprocess.CalledProcessError as exc:  # e.g. a connection refused: say which
                    print(f"wrk failed on {name}: {exc.stdout}{exc.stderr}", file=sys.stderr)
                    continue
                used = cpu_seconds(pid) - before
                runs[name].append(used * 1e6 / max(r["rps"] * args.duration, 1))
                rps[name].append(r["rps"])
                p95[name].append(r["p95"])
        med = {name: statistics.median(v) for name, v in runs.items()}
        print(
            f"c={args.concurrency}, {args.rounds} rounds of {args.duration:g}s, medians; load {os.getloadavg()[0]:.2f}"
        )
        print(f"{'target':<12} {'req/s':>7} {'p95 ms':>7} {'CPU us/req':>10} {'cost us':>8}  piece switched off")
        for name in targets:
            cost = med["full"] - med[name] if name in ABLATIONS else 0.0
            what = ABLATIONS[name][0] if name in ABLATIONS else {"floor": "bare pass-through"}.get(name, "")
            row = (
                f"{name:<12} {statistics.median(rps[name]):7.0f} {statistics.median(p95[name]):7.1f} {med[name]:10.1f}"
            )
            print(f"{row} {cost:8.1f}  {what}")
        for name in ("full", "before"):
            if name in med:
                print(f"llmvet ({name}) own CPU per request over the floor: {med[name] - med['floor']:.1f} us")
    finally:
        stop_all(procs, tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
