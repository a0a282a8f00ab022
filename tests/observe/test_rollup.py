"""The rollup's background sum: in slices that give the event loop back, with nothing lost or counted twice."""

from __future__ import annotations

import asyncio
import random
import time

from llmvet.observe import rollup
from tests.observe.test_drift import BEFORE, record


async def _blobs(store, roll: rollup.Rollup, now: float) -> dict:
    bucket = roll.bucket_of(now)
    return await store.get(rollup.NAMESPACE, f"b:{bucket}:{roll.replica}")


async def test_flush_sums_in_slices_while_requests_go_on(store):
    sliced, whole = rollup.Rollup(store, replica="sliced"), rollup.Rollup(store, replica="whole")
    count = 3 * rollup.ABSORB_SLICE + 17
    # All in one bucket: where a bucket's start fell inside the records' span, the one bucket read below
    # held only some of them (the test failed when run in the first seconds of a bucket).
    now = sliced.bucket_of(time.time()) + count * 0.01 + 1
    rng = random.Random(11)
    records = [record(rng, BEFORE, now - i * 0.01, model=rng.choice(["a", "b"])) for i in range(count)]
    late = record(rng, BEFORE, now, model="a")
    for rec in records:
        sliced.add(rec)
        whole.add(rec)
    queued_when_it_ran: list[int] = []

    async def a_request_finishing_meanwhile() -> None:
        queued_when_it_ran.append(len(sliced._pending))
        sliced.add(late)  # queued while the flush sums: summed by it too, or by the next one

    task = asyncio.create_task(a_request_finishing_meanwhile())
    await sliced.flush(now)
    await task
    # It ran between two slices: records were still waiting (summed all at once, none would be).
    assert 0 < queued_when_it_ran[0] < len(records)
    await sliced.flush(now)  # (whatever the first flush left)
    whole.add(late)
    assert whole.absorb() == len(records) + 1  # one sum of everything, as before the slices
    await whole.flush(now)
    got, expected = await _blobs(store, sliced, now), await _blobs(store, whole, now)
    assert got == expected
    assert sum(counts["n"] for counts in got.values()) == len(records) + 1


def test_absorb_takes_the_oldest_records_up_to_its_limit():
    roll = rollup.Rollup(store=None, replica="r")  # type: ignore[arg-type]  # absorb never touches the store
    rng = random.Random(3)
    now = time.time()
    for i in range(10):
        roll.add(record(rng, BEFORE, now, model=f"m{i}"))
    assert roll.absorb(4) == 4
    assert sorted(rollup.split_group(g)[0] for g in roll._mine[roll.bucket_of(now)]) == ["m0", "m1", "m2", "m3"]
    assert roll.absorb(100) == 6 and roll.absorb(100) == 0


async def test_absorb_all_gives_the_loop_back_between_slices():
    roll = rollup.Rollup(store=None, replica="r")  # type: ignore[arg-type]  # absorbing never touches the store
    rng = random.Random(5)
    now = time.time()
    for _ in range(2 * rollup.ABSORB_SLICE + 1):
        roll.add(record(rng, BEFORE, now))
    queued_when_it_ran: list[int] = []

    async def another_request() -> None:
        queued_when_it_ran.append(len(roll._pending))

    task = asyncio.create_task(another_request())
    await roll.absorb_all()
    await task
    assert queued_when_it_ran and 0 < queued_when_it_ran[0] < 2 * rollup.ABSORB_SLICE + 1
    assert roll._pending == [] and roll._mine[roll.bucket_of(now)]
