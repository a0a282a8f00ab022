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
    assert [i["id"] for i in await q.items()] == [b["id"], a["id"]]  # newest first
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
    replica_a, replica_b = ReviewQueue(store, poll_interval=0.05), ReviewQueue(store, poll_interval=0.05)
    item = await replica_a.enqueue(_item())
    waiter = asyncio.create_task(replica_a.wait(item["id"], 5))
    await asyncio.sleep(0.1)
    assert not waiter.done()
    started = time.monotonic()
    await replica_b.decide(item["id"], "bob", "rejected", reason="no")
    final = await asyncio.wait_for(waiter, 2)
    assert final["outcome"] == "rejected" and final["reason"] == "no"
    assert time.monotonic() - started < 1.0


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
    assert [i["id"] for i in await q.items()] == [pending["id"]]
    assert (await q.get(pending["id"]))["client_gone"] is None  # the marker expired too; the item did not


def test_listing_filters_order_and_counts():
    from llmvet.review import listing

    now = time.time()
    items = [
        {
            "id": "rev_c",
            "status": "pending",
            "created": now - 30,
            "rule": "a",
            "model": "m1",
            "validator_names": ["packages"],
            "findings": [],
        },
        {
            "id": "rev_b",
            "status": "pending",
            "created": now - 900,
            "rule": "b",
            "model": "m2",
            "validator_names": ["regex"],
            "findings": [],
        },
        {
            "id": "rev_a",
            "status": "rejected",
            "created": now - 2000,
            "rule": "a",
            "model": "m1",
            "validator_names": ["packages"],
            "findings": [],
            "decision": {"at": now - 10},
        },
    ]
    f = listing.Filters.from_query({})
    assert [i["id"] for i in listing.apply(items, f)] == ["rev_b", "rev_c"]  # oldest pending first
    assert [i["id"] for i in listing.apply(items, listing.Filters.from_query({"validator": "packages"}))] == ["rev_c"]
    assert [i["id"] for i in listing.apply(items, listing.Filters.from_query({"min_age": "10"}))] == ["rev_b"]
    assert [i["id"] for i in listing.apply(items, listing.Filters.from_query({"max_age": "1"}))] == ["rev_c"]
    assert [i["id"] for i in listing.apply(items, listing.Filters.from_query({"status": "decided"}))] == ["rev_a"]
    assert listing.Filters.from_query({"status": "bogus", "min_age": "x"}).status == "pending"
    c = listing.counts(items)
    assert c["status"] == {"pending": 2, "rejected": 1}
    assert c["rule"] == {"a": 1, "b": 1} and c["validator"] == {"packages": 1, "regex": 1}


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
