"""The replicas' policy registry: entries expire with their TTL, disagreement is timed from its start."""

from __future__ import annotations

import asyncio

from llmvet.store import serving


def entry(replica: str, policy: str, since: float) -> serving.Serving:
    return serving.Serving(replica=replica, policy=policy, since=since, at=since)


async def test_entries_live_until_their_ttl_or_withdrawal(store):
    await serving.publish(store, entry("a", "p@1", 1.0), ttl=0.3)
    await serving.publish(store, entry("b", "p@2", 2.0), ttl=30)
    assert [e["replica"] for e in await serving.live(store)] == ["a", "b"]
    await asyncio.sleep(0.5)
    assert [e["replica"] for e in await serving.live(store)] == ["b"]  # a stopped beating
    await serving.withdraw(store, "b")
    assert await serving.live(store) == []


def test_disagreement_counts_from_the_first_replica_that_moved_on():
    # c still serves v1 (since t=0); a moved to v2 at t=100, b at t=150: they disagree since 100.
    entries = [entry("a", "p@2", 100.0), entry("b", "p@2", 150.0), entry("c", "p@1", 0.0)]
    assert serving.disagreement(entries, now=400.0) == 300.0
    assert serving.versions(entries) == {"p@2": ["a", "b"], "p@1": ["c"]}
    assert serving.disagreement([entry("a", "p@2", 100.0), entry("b", "p@2", 5.0)], now=400.0) == 0.0
    assert serving.disagreement([], now=1.0) == 0.0
