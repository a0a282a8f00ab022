"""The write-ahead audit journal, against SQLite and a real redis-server: what a dead process journaled
reaches the store exactly once, whatever moment it died at."""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections import Counter
from pathlib import Path

import pytest

from llmvet.audit import AuditLog
from llmvet.journal import Journal, JournalBusy
from llmvet.store import keys


def rec(i: int) -> dict:
    return {"ts": 1.0 + i, "request_id": f"req_{i}"}


async def audit_ids(store) -> Counter:
    seen: Counter = Counter()
    after = None
    while page := await store.read(keys.AUDIT, after=after):
        seen.update(r.get("audit_id") for _, r in page)
        after = page[-1][0]
    return seen


def opened(folder: Path, store) -> Journal:
    journal = Journal(folder, store.url)
    journal.open()
    return journal


def die(journal: Journal) -> None:
    """What kill -9 leaves: the segments as they are, and the slot's lock let go (by the kernel)."""
    journal.close(clean=False)


async def replayed(audit: AuditLog, at_least: int) -> None:
    for _ in range(200):
        if audit.replayed >= at_least:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"replayed {audit.replayed}, expected {at_least}")


async def test_replay_after_the_store_was_written_but_the_segment_kept_writes_nothing_twice(store, tmp_path, caplog):
    journal = opened(tmp_path / "j", store)
    first = AuditLog(store, journal=journal)  # not started: this test drives the writer's steps
    for i in range(5):
        first.record(rec(i))  # type: ignore[arg-type]
    kept = tmp_path / "kept"
    shutil.copytree(journal.slot, kept)  # the segment as it was before the writer deleted it
    await first.flush()  # five records in the store with the journal's mark; segment deleted
    assert len(await audit_ids(store)) == 5
    assert [p.stat().st_size for p in journal.slot.glob("*.jsonl")] == [0]  # only the new, empty segment
    for seg in kept.glob("*.jsonl"):
        shutil.copy(seg, journal.slot / seg.name)  # ... as if the process died before the delete
    for i in range(5, 8):
        first.record(rec(i))  # type: ignore[arg-type]  # journaled only: died before the next flush
    die(journal)

    caplog.set_level(logging.WARNING, "llmvet.audit")
    second = AuditLog(store, journal=opened(tmp_path / "j", store), interval=0.05)
    assert second.journal is not None and second.journal.slot == journal.slot  # the dead one's slot
    second.start()
    await replayed(second, 3)
    second.record(rec(8))  # type: ignore[arg-type]
    await second.close()
    ids = await audit_ids(store)
    assert len(ids) == 9 and set(ids.values()) == {1}, ids
    assert "3 record(s) written, 5 already in the store, 0 line(s) skipped" in caplog.text
    assert await store.get(keys.JOURNAL, journal.token) is None  # the dead one's mark is gone after replay
    assert not list(journal.slot.glob("*.jsonl"))  # a clean close keeps no segment


async def test_a_line_cut_short_by_the_crash_is_skipped_with_a_warning(store, tmp_path, caplog):
    journal = opened(tmp_path / "j", store)
    first = AuditLog(store, journal=journal)
    for i in range(3):
        first.record(rec(i))  # type: ignore[arg-type]
    die(journal)
    segment = sorted(journal.slot.glob("*.jsonl"))[-1]
    with segment.open("ab") as f:
        f.write(b'{"ts":9.0,"audit_id":"not-a-number"}\n')  # JSON, but no id a journal writes
        f.write(b'{"ts":4.0,"request_id":"req_3","audit_id":"' + journal.token.encode() + b"-4")  # no end
    caplog.set_level(logging.WARNING, "llmvet.audit")
    second = AuditLog(store, journal=opened(tmp_path / "j", store), interval=0.05)
    second.start()
    await replayed(second, 3)
    await second.close()
    ids = await audit_ids(store)
    assert sorted(ids) == sorted(f"{journal.token}-{n}" for n in (1, 2, 3)) and set(ids.values()) == {1}
    assert f"{segment} line 4 skipped" in caplog.text and f"{segment} line 5 skipped" in caplog.text
    assert "3 record(s) written, 0 already in the store, 2 line(s) skipped" in caplog.text


async def test_a_new_process_replays_a_dead_workers_slot_too(store, tmp_path):
    live = opened(tmp_path / "j", store)  # worker 0, alive throughout
    dead = opened(tmp_path / "j", store)  # worker 1
    assert (live.slot.name, dead.slot.name) == ("worker-0", "worker-1")
    untouched = AuditLog(store, journal=live, interval=0.05)
    untouched.start()  # worker 0 started before the crash: it replays nothing of worker 1's
    await asyncio.sleep(0.1)
    crashed = AuditLog(store, journal=dead)
    for i in range(4):
        crashed.record(rec(i))  # type: ignore[arg-type]
    die(dead)
    await asyncio.sleep(0.2)
    assert untouched.replayed == 0 and len(await audit_ids(store)) == 0
    await untouched.close()  # worker 0 stops cleanly; the next process takes its slot

    restarted = AuditLog(store, journal=opened(tmp_path / "j", store), interval=0.05)
    assert restarted.journal is not None and restarted.journal.slot.name == "worker-0"
    restarted.start()
    await replayed(restarted, 4)
    await restarted.close()
    ids = await audit_ids(store)
    assert len(ids) == 4 and set(ids.values()) == {1}
    assert not list(dead.slot.glob("*.jsonl"))


async def test_processes_sharing_a_folder_never_share_a_slot(store, tmp_path, monkeypatch):
    monkeypatch.setattr("llmvet.journal.MAX_SLOTS", 4)
    a, b = opened(tmp_path / "j", store), opened(tmp_path / "j", store)
    assert a.slot != b.slot
    a.close(clean=True)
    c = opened(tmp_path / "j", store)
    assert c.slot == a.slot  # free again once its holder let go
    d = opened(tmp_path / "j", store)
    assert {b.slot.name, c.slot.name, d.slot.name} == {"worker-0", "worker-1", "worker-2"}
    opened(tmp_path / "j", store)
    with pytest.raises(JournalBusy, match=r"all 4 worker slots of the audit journal .* are in use"):
        opened(tmp_path / "j", store)


async def test_records_of_another_store_are_left_alone(tmp_path):
    from llmvet.store import open_store

    one = await open_store(f"sqlite:///{tmp_path / 'one.db'}")
    two = await open_store(f"sqlite:///{tmp_path / 'two.db'}")
    journal = opened(tmp_path / "j", one)
    AuditLog(one, journal=journal).record(rec(0))  # type: ignore[arg-type]
    die(journal)
    other = AuditLog(two, journal=opened(tmp_path / "j", two), interval=0.05)
    other.start()
    await asyncio.sleep(0.2)
    await other.close()
    assert len(await audit_ids(two)) == 0  # never replayed into a store it was not meant for
    back = AuditLog(one, journal=opened(tmp_path / "j", one), interval=0.05)
    back.start()
    await replayed(back, 1)
    await back.close()
    assert len(await audit_ids(one)) == 1
    await one.close()
    await two.close()


async def test_a_live_process_adopts_a_dead_workers_slot_nobody_restarts(store, tmp_path, caplog):
    # A replica killed -9 and scaled away: no new process starts on its slot, so a live one replays it.
    live_journal = opened(tmp_path / "j", store)
    live = AuditLog(store, journal=live_journal, interval=0.05, adopt_every=0.1)
    live.start()
    live.record(rec(0))  # type: ignore[arg-type]
    await asyncio.sleep(0.1)  # its start-up replay is over before the other process dies
    dead = opened(tmp_path / "j", store)
    crashed = AuditLog(store, journal=dead)
    for i in range(1, 5):
        crashed.record(rec(i))  # type: ignore[arg-type]
    busy = AuditLog(store, journal=opened(tmp_path / "j", store))  # alive: its slot is never taken
    busy.record(rec(9))  # type: ignore[arg-type]
    caplog.set_level(logging.WARNING, "llmvet.audit")
    die(dead)
    await replayed(live, 4)
    await asyncio.sleep(0.3)  # a few more looks: nothing is replayed twice, the live slot is left alone
    await live.close()
    ids = await audit_ids(store)
    assert sorted(ids) == sorted([f"{live_journal.token}-1", *(f"{dead.token}-{n}" for n in range(1, 5))])
    assert set(ids.values()) == {1} and live.replayed == 4
    assert caplog.text.count(f"audit journal {dead.slot} replayed: 4 record(s) written") == 1
    assert busy.journal is not None and len(list(busy.journal.slot.glob("*.jsonl"))) == 1  # untouched
    busy.journal.close(clean=False)
