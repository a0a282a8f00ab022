"""Policy reloads under load: wrk against llmvet with and without 20 reloads, in one run.

    python benchmarks/reload.py [--duration 10] [--concurrency 32] [--reloads 20]

Prints requests/s and p50 for both runs, the non-2xx count (must be 0) and the throughput ratio of
the run with reloads against the run without. Reloads alternate between two valid policy texts
(each a real change: new version, one validator rebuilt) via the admin endpoint. Needs `wrk`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from overhead import LUA, run_wrk, serve, stop_all, uvicorn_cmd  # type: ignore[import-not-found]

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.support.servers import free_port  # noqa: E402

POLICY = ROOT / "policies" / "default.yaml"
TOKEN = "bench-admin-token"


def reloads(url: str, policy: Path, texts: list[str], n: int, duration: float, done: list[int]) -> None:
    """`n` reloads spread over `duration` seconds, alternating the texts; counts the 200s."""
    for i in range(n):
        time.sleep(duration / (n + 1))
        policy.write_text(texts[i % 2])
        r = httpx.post(url + "/llmvet/v1/admin/policy/reload", headers={"authorization": f"Bearer {TOKEN}"})
        done.append(r.status_code)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--reloads", type=int, default=20)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="llmvet-reload-bench-"))
    log, script, policy = tmp / "servers.log", tmp / "bench.lua", tmp / "policy.yaml"
    script.write_text(LUA)
    base = POLICY.read_text()
    texts = [base, base + "\n# changed\n"]
    policy.write_text(texts[0])
    up, px = free_port(), free_port()
    upstream = f"http://127.0.0.1:{up}/v1"
    procs = [serve(uvicorn_cmd("bare:upstream_app", up), up, log)]
    try:
        cmd = [sys.executable, "-m", "llmvet", "serve", "--upstream", upstream, "--port", str(px)]
        cmd += ["--policy", str(policy), "--store", f"sqlite:///{tmp / 'bench.db'}"]
        procs.append(serve(cmd, px, log, {"LLMVET_LOG_LEVEL": "warning", "LLMVET_ADMIN_TOKEN": TOKEN}))
        url = f"http://127.0.0.1:{px}"
        run_wrk(url, 8, 1, script)  # warm up
        quiet = run_wrk(url, args.concurrency, args.duration, script)
        statuses: list[int] = []
        worker = threading.Thread(
            target=reloads, args=(url, policy, texts, args.reloads, args.duration, statuses), daemon=True
        )
        worker.start()
        busy = run_wrk(url, args.concurrency, args.duration, script)
        worker.join()
    finally:
        stop_all(procs, tmp)
    print(f"without reloads: {quiet['rps']:.0f} req/s, p50 {quiet['p50']:.1f} ms, non-2xx/errors {quiet['errors']}")
    print(
        f"with {len(statuses)} reloads: {busy['rps']:.0f} req/s, p50 {busy['p50']:.1f} ms, non-2xx/errors {busy['errors']}"
    )
    print(f"reloads answered 200: {statuses.count(200)}/{len(statuses)}")
    print(f"throughput ratio (with / without reloads): {busy['rps'] / quiet['rps']:.3f}")
    return 0 if busy["errors"] == 0 and statuses.count(200) == len(statuses) else 1


if __name__ == "__main__":
    sys.exit(main())
