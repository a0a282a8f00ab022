"""Scale-out through the load balancer: 3 llmvet replicas vs 1, both behind haproxy running
deploy/haproxy.cfg on one redis-server, driven by wrk in the same run; then the requests lost when a
replica is killed (-9) or drained (SIGTERM) under load, and the audit records the kill -9 lost or
duplicated, with the killed replica's audit journal off (before) and on (after).

    python benchmarks/scaleout.py [--duration 5] [--rounds 3] [--concurrency 32]

On a 2-core machine three replicas cannot have more CPU than one: the 3-vs-1 ratio shows the cost of
running several replicas (processes, the load balancer, shared Redis), not capacity. Needs wrk, haproxy
and redis-server (apt-get install -y wrk haproxy redis-server).
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # for tests.support
from overhead import LUA, cpu_seconds, llmvet_cmd, run_wrk, serve, uvicorn_cmd  # noqa: E402

from tests.support.loadbalancer import haproxy  # noqa: E402
from tests.support.review_helpers import read_audit  # noqa: E402
from tests.support.servers import free_port, redis_server  # noqa: E402

ENV = {"LLMVET_LOG_LEVEL": "warning", "LLMVET_DRAIN_TIMEOUT": "5"}
FAULT_LUA = (
    LUA.split("done = function")[0]
    + """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("FAULT %d %d %d %d %d\\n", summary.requests, e.status, e.connect, e.read, e.timeout))
end
"""
)


class Replicas:
    """`llmvet serve` processes on fixed ports (a restart keeps the port the load balancer knows)."""

    def __init__(self, upstream: str, store: str, policy: Path, log: Path, count: int) -> None:
        self.upstream, self.store, self.policy, self.log = upstream, store, policy, log
        self.ports = [free_port() for _ in range(count)]
        self.envs = [dict(ENV) for _ in range(count)]
        self.procs = [self.start(i) for i in range(count)]

    def start(self, i: int) -> subprocess.Popen:
        cmd = llmvet_cmd(self.upstream, self.ports[i], self.policy, self.store)
        return serve(cmd, self.ports[i], self.log, self.envs[i])

    def restart(self, i: int) -> None:
        self.procs[i] = self.start(i)

    def rss_mb(self) -> list[float]:
        return [_rss_mb(p.pid) for p in self.procs]

    def cpu(self) -> float:
        return sum(cpu_seconds(p.pid) for p in self.procs)

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            p.wait(30)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def throughput(targets: dict[str, tuple[str, Replicas]], args: argparse.Namespace, script: Path) -> None:
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
    for url, _ in targets.values():
        run_wrk(url, 8, 1, script)  # warm up
    for _ in range(args.rounds):  # alternating, so drifting background load hits every target alike
        for name, (url, replicas) in targets.items():
            before = replicas.cpu()
            r = run_wrk(url, args.concurrency, args.duration, script)
            r["cpu_ms"] = (replicas.cpu() - before) * 1000 / max(r["rps"] * args.duration, 1)
            runs[name].append(r)
    med = {name: {k: statistics.median(x[k] for x in rs) for k in rs[0]} for name, rs in runs.items()}
    for name, r in med.items():
        print(
            f"{name:<26} {r['rps']:8.0f} req/s  p50 {r['p50']:6.2f} ms  p99 {r['p99']:6.2f} ms"
            f"  llmvet cpu {r['cpu_ms']:.3f} ms/req  errors {r['errors']:.0f}"
        )
    three, one, direct = med["3 replicas behind haproxy"], med["1 replica behind haproxy"], med["1 replica direct"]
    print(
        f"\n3 vs 1 behind haproxy: throughput {three['rps'] / one['rps']:.2f}x, p50 {three['p50'] / one['p50']:.2f}x, "
        f"llmvet cpu/req {three['cpu_ms'] / one['cpu_ms']:.2f}x"
        f"\nhaproxy vs direct (1 replica): throughput {one['rps'] / direct['rps']:.2f}x"
    )


def wrk_errors(url: str, concurrency: int, duration: float, script: Path) -> dict[str, float]:
    """wrk (no retries, 10 s timeout) with its errors by kind: error statuses, and no answer at all."""
    cmd = ["wrk", "-t", "2", "-c", str(concurrency), "-d", f"{round(duration)}s", "--timeout", "10s", "-s", str(script)]
    out = subprocess.run([*cmd, url + "/v1/chat/completions"], capture_output=True, text=True, check=True).stdout
    m = re.search(r"FAULT (\d+) (\d+) (\d+) (\d+) (\d+)", out)
    if not m:
        raise RuntimeError(f"could not parse wrk output:\n{out}")
    requests, non2xx, connect, read, timeout = map(int, m.groups())
    return {"requests": requests, "non2xx": non2xx, "connect": connect, "read": read, "timeout": timeout,
            "socket": connect + read + timeout}  # fmt: skip


def fault_run(name: str, url: str, replicas: Replicas, i: int, sig: int, args: argparse.Namespace, script: Path):
    """wrk for `fault_duration` s; a third of the way in, replica i gets `sig` and is restarted once it is gone."""

    def fault() -> None:
        time.sleep(args.fault_duration / 3)
        replicas.procs[i].send_signal(sig)
        replicas.procs[i].wait(30)
        replicas.restart(i)

    t = threading.Thread(target=fault)
    t.start()
    r = wrk_errors(url, args.concurrency, args.fault_duration, script)
    t.join()
    print(
        f"{name:<10} {r['requests']:7.0f} requests: {r['non2xx']:.0f} answered with an error status (OpenAI-shaped),"
        f" {r['socket']:.0f} without any answer (connect {r['connect']:.0f}, read {r['read']:.0f},"
        f" timeout {r['timeout']:.0f})"
    )
    return r


def response_records(store: str) -> Counter[str]:
    return Counter(rec["request_id"] for rec in read_audit(store) if not rec.get("kind"))


def kill_audit_run(label: str, journal: str, lb, three: Replicas, args, script: Path) -> None:
    """kill -9 of r0 under load, r0 started with LLMVET_AUDIT_JOURNAL=`journal`; then the audit records."""
    three.envs[0]["LLMVET_AUDIT_JOURNAL"] = journal
    three.procs[0].terminate()  # a clean restart, so r0 runs with this journal setting
    three.procs[0].wait(30)
    three.restart(0)
    lb.wait_states({"r0": "UP", "r1": "UP", "r2": "UP"})
    before = response_records(three.store)
    r = fault_run(f"kill -9 ({label})", lb.url, three, 0, signal.SIGKILL, args, script)
    lb.wait_states({"r0": "UP", "r1": "UP", "r2": "UP"})
    time.sleep(1.5)  # the live replicas' last flush (and r0's replay)
    after = response_records(three.store)
    new = len(set(after) - set(before))
    dup = sum(n - 1 for n in after.values() if n > 1)
    ok = r["requests"] - r["non2xx"]
    print(
        f"           audit: {ok:.0f} answered 2xx, {new} new response records, answers minus records "
        f"{ok - new:+.0f} (> 0: records lost; < 0: requests wrk was still waiting for at its end, or "
        f"that haproxy sent again after the kill, are recorded too), {dup} duplicated"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--fault-duration", type=float, default=9.0)
    ap.add_argument("--policy", default=str(HERE.parent / "deploy" / "policy.yaml"))
    args = ap.parse_args()
    missing = [exe for exe in ("wrk", "haproxy", "redis-server") if not shutil.which(exe)]
    if missing:
        print(f"missing: {' '.join(missing)} (apt-get install -y {' '.join(missing)})", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="llmvet-scaleout-"))
    script, fault_script = tmp / "post.lua", tmp / "fault.lua"
    script.write_text(LUA)
    fault_script.write_text(FAULT_LUA)
    log = tmp / "servers.log"
    ENV["XDG_STATE_HOME"] = str(tmp / "state")  # the replicas' default audit journals: scratch, not the home
    with ExitStack() as stack:
        up_port = free_port()
        upstream = serve(uvicorn_cmd("bare:upstream_app", up_port), up_port, log)
        stack.callback(lambda: (upstream.terminate(), upstream.wait(10)))
        store = stack.enter_context(redis_server())
        three = Replicas(f"http://127.0.0.1:{up_port}/v1", store, Path(args.policy), log, 3)
        stack.callback(three.stop)
        one = Replicas(f"http://127.0.0.1:{up_port}/v1", store, Path(args.policy), log, 1)
        stack.callback(one.stop)
        lb3 = stack.enter_context(haproxy(three.ports, tmp / "lb3"))
        lb1 = stack.enter_context(haproxy(one.ports, tmp / "lb1"))
        lb3.wait_states({"r0": "UP", "r1": "UP", "r2": "UP"})
        lb1.wait_states({"r0": "UP"})
        idle = three.rss_mb() + one.rss_mb()
        print(f"wrk -c {args.concurrency}, {args.rounds} alternating rounds of {args.duration:g} s, medians "
              "(a shared 2-core machine: the 3-vs-1 ratio is overhead, not capacity)\n")  # fmt: skip
        targets = {
            "1 replica direct": (f"http://127.0.0.1:{one.ports[0]}", one),
            "1 replica behind haproxy": (lb1.url, one),
            "3 replicas behind haproxy": (lb3.url, three),
        }
        throughput(targets, args, script)
        print(f"\nreplica RSS: idle {max(idle):.0f} MB, after load {max(three.rss_mb() + one.rss_mb()):.0f} MB (max)\n")
        for label, journal in (("no journal", "off"), ("journal", str(tmp / "journal-r0"))):
            kill_audit_run(label, journal, lb3, three, args, fault_script)
        fault_run("SIGTERM", lb3.url, three, 1, signal.SIGTERM, args, fault_script)
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
