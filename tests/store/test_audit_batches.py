"""The audit writer keeps batching under steady traffic: records queued while a batch is being written
wait for the next round instead of being chased one write at a time."""

from __future__ import annotations

import asyncio
import sqlite3
import time

from llmvet.audit import AuditLog
from llmvet.store import open_store


async def test_steady_traffic_is_written_in_a_few_batches(tmp_path):
    path = tmp_path / "audit.db"
    store = await open_store(f"sqlite:///{path}")
    audit = AuditLog(store, interval=0.1)
    audit.start()
    sent = 300
    started = time.perf_counter()
    for i in range(sent):  # a busy proxy: ~2 ms of work on the event loop per response, for ~0.6 s
        audit.record({"request_id": f"req_{i}", "kind": "response"})  # type: ignore[typeddict-item]
        busy_until = time.perf_counter() + 0.002
        while time.perf_counter() < busy_until:
            pass
        await asyncio.sleep(0)
    rounds = (time.perf_counter() - started) / 0.1  # writer wake-ups while records came in
    await audit.close()
    await store.close()
    with sqlite3.connect(path) as db:
        written, batches = db.execute("SELECT COUNT(*), COUNT(DISTINCT ts) FROM log").fetchone()
    assert written == sent  # nothing lost, the last ones flushed at close
    # Each append stamps its rows with one time: one write per wake-up (and one at close). Chasing the
    # records queued during a write gave about three times as many here, one per response under load.
    assert batches <= rounds + 3, (batches, rounds)


async def test_a_batch_that_fails_partway_leaves_no_rows_and_no_mark(tmp_path):
    """A batch is one transaction: rows in several INSERT statements, then the journal's mark. When the
    mark fails after the rows went in (here a value JSON cannot hold), none of the batch's rows stay and
    the mark does not move; the next batch gets the ids right after the last batch written."""
    store = await open_store(f"sqlite:///{tmp_path / 'audit.db'}")
    try:
        first = await store.append("audit", [{"n": 0}], ("journal", "tok", 1))
        batch = [{"n": i} for i in range(1, 601)]  # three INSERT statements
        try:
            await store.append("audit", batch, ("journal", "tok", object()))
            raise AssertionError("a mark orjson cannot write was accepted")
        except TypeError:
            pass
        assert [r["n"] for _, r in await store.read("audit")] == [0]
        assert await store.get("journal", "tok") == 1
        again = await store.append("audit", [{"n": 1}], ("journal", "tok", 2))
        assert [r["n"] for _, r in await store.read("audit")] == [0, 1]
        assert int(again[0]) > int(first[0])
        assert await store.get("journal", "tok") == 2
    finally:
        await store.close()
