"""The review queue, accounts and allowlist on the store: the same tests on SQLite and a real redis-server."""

from __future__ import annotations

import asyncio
import time

import pytest

from llmvet.review import allowlist
from llmvet.review.auth import Accounts, sha256
from llmvet.review.queue import QueueError, ReviewQueue


def _item(**kw):
    return {
        "request_id": "req_1",
        "mode": "hold",
        "rule": "r",
        "model": "m",
        "route": "chat.completions",
        "answer": {"text": "hello"},
        "findings": [],
        **kw,
    }


async def test_enqueue_get_and_list(store):
    q = ReviewQueue(store)
    a = await q.enqueue(_item())
    await asyncio.sleep(0.002)
    b = await q.enqueue(_item(request_id="req_2"))
    assert a["id"].startswith("rev_") and a["id"] != b["id"]
    got = await q.get(a["id"])
    assert got["status"] == "pending" and got["request_id"] == "req_1"
    assert [i["id"] for i in await q.pending()] == [a["id"], b["id"]]  # oldest first: closest to its timeout
    assert await q.get("rev_nope") is None and await q.get("not-an-id") is None


async def test_lease_keeps_a_second_reviewer_out_until_it_expires(store):
    q = ReviewQueue(store, lease_seconds=0.4)
    item = await q.enqueue(_item())
    await q.claim(item["id"], "alice")
    await q.claim(item["id"], "alice")  # renewing your own lease is fine
    with pytest.raises(QueueError) as exc:
        await q.claim(item["id"], "bob")
    assert exc.value.status == 409 and "alice" in exc.value.message
    with pytest.raises(QueueError):
        await q.decide(item["id"], "bob", "approved")
    await asyncio.sleep(0.5)  # alice's browser crashed: her lease runs out
    await q.claim(item["id"], "bob")
    decided = await q.decide(item["id"], "bob", "approved")
    assert decided["status"] == "approved" and decided["decision"]["reviewer"] == "bob"
    assert await q.lease(item["id"]) is None


async def test_release_gives_the_item_back(store):
    q = ReviewQueue(store)
    item = await q.enqueue(_item())
    await q.claim(item["id"], "alice")
    await q.release(item["id"], "bob")  # not bob's to release
    assert (await q.lease(item["id"]))["reviewer"] == "alice"
    await q.release(item["id"], "alice")
    await q.claim(item["id"], "bob")


async def test_exactly_one_outcome_wins(store):
    q = ReviewQueue(store)
    item = await q.enqueue(_item())
    results = await asyncio.gather(
        q.decide(item["id"], "alice", "approved"), q.expire(item["id"], "block"), return_exceptions=True
    )
    winners = [r for r in results if isinstance(r, dict)]
    assert len(winners) == 1
    final = await q.get(item["id"])
    assert final["status"] == winners[0]["status"]
    with pytest.raises(QueueError) as exc:
        await q.decide(item["id"], "bob", "rejected", reason="late")
    assert exc.value.status == 409
    assert await q.expire(item["id"], "block") is None


async def test_decision_rules(store):
    q = ReviewQueue(store)
    item = await q.enqueue(_item())
    with pytest.raises(QueueError, match="reason"):
        await q.decide(item["id"], "alice", "rejected", reason="  ")
    with pytest.raises(QueueError, match="empty"):
        await q.decide(item["id"], "alice", "edited", text="")
    with pytest.raises(QueueError) as exc:
        await q.decide("rev_missing", "alice", "approved")
    assert exc.value.status == 404
    done = await q.decide(item["id"], "alice", "edited", text="better", reason="typo")
    assert done["decision"]["text"] == "better" and done["status"] == "edited"


async def test_a_decision_through_another_replica_wakes_the_waiter(store):
    # polling every 30 s: only the wake-up (the store's channel) can answer within the second
    replica_a, replica_b = ReviewQueue(store, poll_interval=30), ReviewQueue(store, poll_interval=30)
    await replica_a.start()
    try:
        item = await replica_a.enqueue(_item())
        waiter = asyncio.create_task(replica_a.wait(item["id"], 60))
        await asyncio.sleep(0.1)
        assert not waiter.done()
        started = time.monotonic()
        await replica_b.decide(item["id"], "bob", "rejected", reason="no")
        final = await asyncio.wait_for(waiter, 2)
        assert final["outcome"] == "rejected" and final["reason"] == "no"
        assert time.monotonic() - started < 1.0
    finally:
        await replica_a.close()


async def test_redis_wake_up_crosses_connections_and_polling_covers_a_lost_message(redis_url):
    """Two replicas = two Redis connections. A decision whose message never arrives (published while
    nobody listened) is still found by the low-rate poll."""
    from llmvet.store import open_store

    store_a, store_b = await open_store(redis_url), await open_store(redis_url)
    replica_a, replica_b = ReviewQueue(store_a, poll_interval=30), ReviewQueue(store_b, poll_interval=30)
    await replica_a.start()
    try:
        item = await replica_a.enqueue(_item())
        waiter = asyncio.create_task(replica_a.wait(item["id"], 60))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        await replica_b.decide(item["id"], "bob", "approved")
        assert (await asyncio.wait_for(waiter, 2))["outcome"] == "approved"
        assert time.monotonic() - started < 1.0

        await replica_a.close()  # no listener: the next decision's message is lost
        lossy = ReviewQueue(store_a, poll_interval=0.3)
        other = await lossy.enqueue(_item())
        waiter = asyncio.create_task(lossy.wait(other["id"], 60))
        await asyncio.sleep(0.05)
        await replica_b.decide(other["id"], "bob", "approved")
        assert (await asyncio.wait_for(waiter, 2))["outcome"] == "approved"
    finally:
        await replica_a.close()
        await store_a.close()
        await store_b.close()


async def test_wait_times_out_with_none(store):
    q = ReviewQueue(store, poll_interval=0.05)
    item = await q.enqueue(_item())
    started = time.monotonic()
    assert await q.wait(item["id"], 0.3) is None
    assert 0.25 < time.monotonic() - started < 1.5


async def test_items_survive_a_new_connection(store):
    """What a restart looks like to the queue: a fresh ReviewQueue on the same data."""
    item = await ReviewQueue(store).enqueue(_item())
    fresh = ReviewQueue(store)
    assert (await fresh.get(item["id"]))["status"] == "pending"
    assert (await fresh.decide(item["id"], "alice", "approved"))["status"] == "approved"


async def test_tokens_are_stored_hashed_and_revocation_ends_sessions(store):
    acc = Accounts(store)
    token = await acc.add("alice", "admin")
    assert token.startswith("lvr_")
    rec = await store.get("reviewer", "alice")
    assert rec["token_sha256"] == sha256(token) and token not in str(rec)
    assert await store.get("reviewer_token", sha256(token)) == "alice"
    who = await acc.by_token(token)
    assert who.name == "alice" and who.is_admin
    assert await acc.by_token("sk-not-a-reviewer-token") is None
    sid, session = await acc.open_session(who)
    assert (await acc.by_session(sid)).csrf == session.csrf
    assert await acc.revoke("alice", by="root")
    assert await acc.by_token(token) is None and await acc.by_session(sid) is None
    assert not await acc.revoke("alice")
    again = await acc.add("alice")  # re-issue: a new token, the old one stays dead
    assert again != token and (await acc.by_token(again)).role == "reviewer"
    listed = await acc.list()
    assert [r["name"] for r in listed] == ["alice"] and "token_sha256" not in listed[0]


async def test_allowlist_add_and_revert_are_audited(store):
    entry = await allowlist.add(
        store, "coding", "pypi", "Dataframe_Vectorizer.Pro", by="alice", reason="internal", review_id="rev_x"
    )
    assert entry["key"] == "coding/pypi/dataframe-vectorizer-pro"
    assert await store.get("allowlist", allowlist.allowlist_key("coding", "pypi", "dataframe-vectorizer-pro"))
    assert [e["package"] for e in await allowlist.entries(store, "coding")] == ["Dataframe_Vectorizer.Pro"]
    assert await allowlist.entries(store, "other") == []
    with pytest.raises(ValueError):
        await allowlist.add(store, "coding", "cargo", "serde", by="alice")
    assert (await allowlist.revert(store, entry["key"], by="bob"))["added_by"] == "alice"
    assert await allowlist.revert(store, entry["key"], by="bob") is None
    kinds = [r["kind"] for _, r in await store.read("audit")]
    assert kinds == ["allowlist.add", "allowlist.revert"]


async def test_decided_items_are_kept_for_keep_seconds_pending_ones_for_good(store):
    q = ReviewQueue(store, keep_seconds=0.3)
    decided, pending = await q.enqueue(_item()), await q.enqueue(_item())
    await q.decide(decided["id"], "alice", "approved")
    await q.client_gone(pending["id"])
    await asyncio.sleep(0.4)
    assert await q.get(decided["id"]) is None
    assert [i["id"] for i in await q.pending()] == [pending["id"]]
    assert (await q.history())[0] == []  # the expired one left the history
    assert await q.index.decided_ids("decided", 0, 10) == []  # and its index (on the read that found it gone)
    assert (await q.get(pending["id"]))["client_gone"] is None  # the marker expired too; the item did not


async def test_listing_filters_order_and_counts(store):
    from llmvet.review import listing

    async def same(item):
        return item

    async def ids(**query) -> list[str]:
        return [i["id"] for i in (await listing.view(q, listing.Filters.from_query(query), 100, same)).items]

    q = ReviewQueue(store)
    now = time.time()
    c = await q.enqueue(_item(id="rev_c", created=now - 30, model="m1", rule="a", validator_names=["packages"]))
    b = await q.enqueue(_item(id="rev_b", created=now - 900, model="m2", rule="b", validator_names=["regex"]))
    a = await q.enqueue(_item(id="rev_a", created=now - 2000, model="m1", rule="a", validator_names=["packages"]))
    await q.decide(a["id"], "alice", "rejected", reason="no")
    assert await ids() == [b["id"], c["id"]]  # oldest pending first
    assert await ids(validator="packages") == [c["id"]]
    assert await ids(min_age="10") == [b["id"]]
    assert await ids(max_age="1") == [c["id"]]
    assert await ids(status="decided") == [a["id"]]
    assert await ids(status="rejected", rule="a") == [a["id"]] and await ids(status="approved") == []
    assert await ids(status="all") == [a["id"], c["id"], b["id"]]  # newest event first
    assert listing.Filters.from_query({"status": "bogus", "min_age": "x"}).status == "pending"
    view = await listing.view(q, listing.Filters.from_query({}), 1, same)
    assert view.total == 2 and len(view.items) == 1
    assert view.counts["status"] == {"pending": 2, "rejected": 1}
    assert view.counts["rule"] == {"a": 1, "b": 1} and view.counts["validator"] == {"packages": 1, "regex": 1}


async def test_history_pages_newest_first_and_counts_from_the_index(store):
    from llmvet.review import listing

    async def same(item):
        return item

    q = ReviewQueue(store)
    made = []
    for _ in range(7):
        made.append(await q.enqueue(_item()))
        await asyncio.sleep(0.002)  # ids sort by their millisecond of creation
    for i, item in enumerate(made):
        await q.decide(item["id"], "alice", "approved" if i % 2 else "rejected", reason="r")
    page, covered = await q.history("decided", 0, 3)
    assert [i["id"] for i in page] == [m["id"] for m in reversed(made)][:3] and covered == 3
    extra = await q.enqueue(_item())
    assert [i["id"] for i in await q.items()] == [extra["id"], *(m["id"] for m in reversed(made))]  # exports
    assert await q.counts() == {"pending": 1, "approved": 3, "rejected": 4}
    view = await listing.view(q, listing.Filters.from_query({"status": "rejected"}), 2, same)
    assert view.total == 4 and [i["status"] for i in view.items] == ["rejected", "rejected"]


async def test_an_index_left_behind_by_a_crash_is_repaired_when_read(store):
    from llmvet.store import keys

    q = ReviewQueue(store)
    item = await q.enqueue(_item())
    # a replica died after recording the outcome, before moving the id out of the pending index
    await store.add(
        keys.REVIEW_FINALS, item["id"], {"outcome": "approved", "reviewer": "x", "reason": "", "at": time.time()}
    )
    assert await q.pending() == []
    assert await store.index_range(keys.REVIEW_PENDING) == []
    assert [i["id"] for i in (await q.history())[0]] == [item["id"]]


async def test_a_queue_of_the_older_layout_is_indexed_once_at_start(store):
    """Items written by a version without indexes (plain keys only) still list after the upgrade."""
    from llmvet.store import keys

    old_pending = {**_item(), "id": "rev_0001", "created": 1.0, "status": "pending"}
    old_decided = {**_item(), "id": "rev_0002", "created": 2.0, "status": "pending"}
    await store.set(keys.REVIEW_ITEMS, old_pending["id"], old_pending)
    await store.set(keys.REVIEW_ITEMS, old_decided["id"], old_decided)
    final = {"outcome": "edited", "reviewer": "bob", "reason": "", "at": time.time(), "text": "fixed"}
    await store.add(keys.REVIEW_FINALS, old_decided["id"], final)
    q = ReviewQueue(store)
    assert await q.pending() == []  # not indexed yet
    await q.start()
    try:
        assert [i["id"] for i in await q.pending()] == ["rev_0001"]
        assert [i["id"] for i in (await q.history("edited"))[0]] == ["rev_0002"]
        assert await q.counts() == {"pending": 1, "edited": 1}
        assert await q.index.upgrade() == 0  # the layout mark is set: later starts do not walk the items
    finally:
        await q.close()


async def test_sessions_end_with_their_token_and_stay_dead_after_a_reissue(store):
    """A leaked token is revoked (or re-issued): sessions opened with it must not come back."""
    acc = Accounts(store)
    leaked = await acc.add("alice")
    sid, _ = await acc.open_session(await acc.by_token(leaked))
    fresh = await acc.add("alice")  # re-issued: the old token's session ends too
    assert await acc.by_session(sid) is None
    sid2, _ = await acc.open_session(await acc.by_token(fresh))
    assert await acc.revoke("alice", by="root")
    newest = await acc.add("alice")  # revoked, then re-issued: old sessions stay dead
    assert await acc.by_session(sid2) is None
    sid3, _ = await acc.open_session(await acc.by_token(newest))
    assert (await acc.by_session(sid3)).name == "alice"


def test_findings_of_other_choices_are_not_highlighted_in_the_first():
    """With n > 1 every choice is vetted and spans point into their own choice; the item shows choice 0."""
    from llmvet.review.highlight import segments

    text = "pip install good-pkg then pip install bad-pkg"
    findings = [
        {"span": [text.index("bad-pkg"), len(text)], "severity": "high", "evidence": {"choice": 0}},
        {"span": [0, 3], "severity": "high", "evidence": {"choice": 1}},
        {"span": [4, 11], "severity": "low", "evidence": {}},
    ]
    marked = [(s.text, s.findings) for s in segments(text, findings) if s.findings]
    assert marked == [("install", [2]), ("bad-pkg", [0])]


async def test_a_failing_store_is_logged_once_while_a_held_request_polls(tmp_path, caplog):
    """The held request polls every few ms; a store that keeps failing gives one traceback, not one a poll."""
    import logging

    from llmvet.store import open_store

    store = await open_store(f"sqlite:///{tmp_path / 'q.db'}")
    queue = ReviewQueue(store, poll_interval=0.01)
    item = await queue.enqueue({"request_id": "r", "mode": "hold"})
    await store.close()  # every read now fails
    with caplog.at_level(logging.WARNING, logger="llmvet.review.queue"):
        assert await queue.wait(item["id"], 0.5) is None  # the request still times out normally
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1 and "reading the outcome" in tracebacks[0].getMessage()


async def test_wake_ups_off_means_polling_only(store):
    """LLMVET_REVIEW_WAKE_UPS=false (a Redis without pub/sub): no announcement, the poll finds it."""
    replica_a = ReviewQueue(store, poll_interval=0.6, wake_ups=False)
    replica_b = ReviewQueue(store, wake_ups=False)
    await replica_a.start()
    try:
        item = await replica_a.enqueue(_item())
        waiter = asyncio.create_task(replica_a.wait(item["id"], 60))
        await asyncio.sleep(0.05)
        await replica_b.decide(item["id"], "bob", "approved")
        await asyncio.sleep(0.2)
        assert not waiter.done()  # nobody told it
        assert (await asyncio.wait_for(waiter, 3))["outcome"] == "approved"  # its next poll did
    finally:
        await replica_a.close()
