"""What the write-ahead audit journal costs per `AuditLog.record()` call, on the request path.

    python benchmarks/audit_journal.py [--rounds 7] [--records 20000] [--dir FOLDER]

Interleaved rounds of the same records through `record()` without a journal (before: an in-memory
queue only), with the journal (one orjson line, one os.write to the page cache), and with the journal
and `fsync` (one fdatasync per record: power-loss safe). Prints the median µs per call of each and the
journal's cost as a ratio and a difference against the in-memory queue of the same round. The writer
is not running (only the call itself is timed); `--dir` should be on the disk the journal will use
(fsync on a tmpfs costs nothing).

Then the writer's side: a batch of 256 records appended to the store as before, and with the journal's
high-water mark written in the same atomic step (SQLite: one more statement in the transaction; Redis:
MULTI/EXEC around the pipeline and one SET), interleaved, ms per batch; Redis needs redis-server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))  # for tests.support

from llmvet.audit import AuditLog  # noqa: E402
from llmvet.journal import Journal  # noqa: E402
from llmvet.store import keys, open_store  # noqa: E402
from tests.support.servers import redis_server  # noqa: E402

RECORD = {  # a vetted response's record as recording.audit_record() builds it (two validators, no finding)
    "ts": 1767225600.123,
    "request_id": "req_0a1b2c3d00000042",
    "route": "chat.completions",
    "model": "gpt-4o-mini",
    "key": "0123456789ab",
    "key_label": None,
    "policy": "coding-assistant",
    "policy_version": "3f2a9c1e",
    "rule": "code",
    "stream": False,
    "status": 200,
    "action": "allow",
    "policy_action": "allow",
    "validators": [
        {"validator": "packages", "status": "passed", "risk": 0.0, "action": "allow", "ms": 0.41, "meta": {}},
        {"validator": "secrets", "status": "passed", "risk": 0.0, "action": "allow", "ms": 0.05},
    ],
    "findings": [],
    "reasks": 0,
    "extra_usage": {},
    "timings_ms": {"total": 212.4, "upstream": 210.9, "validate": 0.6},
    "request_sha256": "9" * 64,
    "response_sha256": "a" * 64,
    "upstream": "https://api.example.com/v1",
    "upstream_model": "gpt-4o-mini-2024-07-18",
    "response_chars": 1843,
}


def time_calls(audit: AuditLog, n: int) -> float:
    """µs per record() call, a fresh dict each (the proxy builds one per response)."""
    started = time.perf_counter()
    for _ in range(n):
        audit.record(dict(RECORD))  # type: ignore[arg-type]
    took = time.perf_counter() - started
    audit._pending.clear()  # the writer is not running: do not let the queue grow across rounds
    return took / n * 1e6


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--records", type=int, default=20000)
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="llmvet-journal-bench-", dir=args.dir))
    store = await open_store(f"sqlite:///{folder / 'llmvet.db'}")
    journal = Journal(folder / "j", store.url)
    journal.open()
    synced = Journal(folder / "j", store.url, fsync=True)
    synced.open()
    sides = {
        "memory": AuditLog(store),
        "journal": AuditLog(store, journal=journal),
        "journal+fsync": AuditLog(store, journal=synced),
    }
    fsync_n = max(args.records // 20, 200)  # a disk flush each: fewer calls
    results: dict[str, list[float]] = {k: [] for k in sides}
    ratios: list[float] = []
    for _ in range(args.rounds):
        mem = time_calls(sides["memory"], args.records)
        jour = time_calls(sides["journal"], args.records)
        results["memory"].append(mem)
        results["journal"].append(jour)
        results["journal+fsync"].append(time_calls(sides["journal+fsync"], fsync_n))
        ratios.append(jour / mem)
        journal.seal()
        journal.shipped()  # what the writer does after a batch: the segments do not pile up
        synced.seal()
        synced.shipped()
    print(f"load average {os.getloadavg()[0]:.2f}; {args.rounds} rounds of {args.records} records; dir {folder}")
    for side, values in results.items():
        print(f"  {side:14s} {statistics.median(values):7.2f} µs per record() (median)")
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"  journal / memory: {statistics.median(ratios):.1f}x, +{med['journal'] - med['memory']:.2f} µs per record")
    journal.close(clean=True)
    synced.close(clean=True)
    await store.close()
    with redis_server() as redis_url:
        for url in (f"sqlite:///{folder / 'batches.db'}", redis_url):
            await batches(url, args.rounds)


async def batches(url: str, rounds: int, size: int = 256, per_round: int = 20) -> None:
    """ms per appended batch, interleaved rounds: without and with the mark; on Redis also the pipeline
    of XADDs that `append` sent before it became one script (the "before")."""
    store = await open_store(url)
    seq = 0

    async def plain(batch: list) -> None:
        await store.append(keys.AUDIT, batch)

    async def marked(batch: list) -> None:
        await store.append(keys.AUDIT, batch, (keys.JOURNAL, "bench", seq))

    async def pipeline(batch: list) -> None:  # RedisStore.append before the script
        async with store.redis.pipeline(transaction=False) as pipe:  # type: ignore[attr-defined]
            for rec in batch:
                pipe.xadd("llmvet:log:audit", {b"r": orjson.dumps(rec)})
            await pipe.execute()

    sides = {"plain": plain, "with the mark": marked}
    if url.startswith("redis"):
        sides["pipeline (before)"] = pipeline
    times: dict[str, list[float]] = {k: [] for k in sides}
    for r in range(rounds):
        order = list(sides.items())
        for name, append in order[r % len(order) :] + order[: r % len(order)]:  # rotate who goes first
            started = time.perf_counter()
            for _ in range(per_round):
                seq += size
                await append([dict(RECORD, audit_id=f"bench-{seq}")] * size)
            times[name].append((time.perf_counter() - started) / per_round * 1000)
    med = {k: statistics.median(v) for k, v in times.items()}
    base = med.get("pipeline (before)", med["plain"])
    line = ", ".join(f"{k} {v:.2f} ms ({v / base:.2f}x)" for k, v in med.items())
    print(f"  {url.split(':')[0]:6s} batch of {size}: {line}")
    await store.close()


if __name__ == "__main__":
    asyncio.run(main())
