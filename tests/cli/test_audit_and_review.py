"""`llmvet audit tail|export` and `llmvet review add-reviewer|list|revoke` on a real store."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest

from llmvet.cli import main
from llmvet.cli.audit_cmd import parse_time
from llmvet.review.auth import Accounts
from llmvet.store import open_store


def _write(url: str, records: list[dict]) -> None:
    async def go() -> None:
        store = await open_store(url)
        await store.append("audit", records)
        await store.close()

    asyncio.run(go())


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path / 'audit.db'}"


def test_export_since_and_kind(url, capsys):
    now = time.time()
    _write(
        url,
        [
            {"ts": now - 3 * 3600, "request_id": "req_old", "action": "allow", "rule": "r"},
            {"ts": now - 600, "request_id": "req_a", "action": "escalate", "rule": "r"},
            {
                "ts": now - 60,
                "kind": "review",
                "request_id": "req_a",
                "review_id": "rev_1",
                "action": "approved",
                "reviewer": "alice",
                "reason": "",
            },
        ],
    )
    assert main(["audit", "export", "--since", "1h", "--format", "jsonl", "--store", url]) == 0
    captured = capsys.readouterr()
    lines = [orjson.loads(x) for x in captured.out.splitlines()]
    assert [r["request_id"] for r in lines] == ["req_a", "req_a"]
    assert "exported 2 record(s)" in captured.err
    assert main(["audit", "export", "--since", "1h", "--kind", "review", "--store", url]) == 0
    assert [orjson.loads(x)["reviewer"] for x in capsys.readouterr().out.splitlines()] == ["alice"]
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 4 * 3600))
    assert main(["audit", "export", "--since", iso, "--store", url]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3


def test_export_to_a_file_and_bad_times(url, tmp_path, capsys):
    _write(url, [{"ts": time.time(), "request_id": "req_x", "action": "allow"}])
    out = tmp_path / "out.jsonl"
    assert main(["audit", "export", "--since", "1d", "-o", str(out), "--store", url]) == 0
    assert orjson.loads(out.read_bytes().splitlines()[0])["request_id"] == "req_x"
    assert main(["audit", "export", "--since", "yesterday-ish", "--store", url]) == 2
    assert "cannot read 'yesterday-ish' as a time" in capsys.readouterr().err


def test_parse_time():
    assert parse_time("90s", now=1000.0) == 910.0
    assert parse_time("2h", now=10_000.0) == 2800.0
    assert parse_time("2026-01-31") == parse_time("2026-01-31T00:00:00Z")
    assert parse_time("2026-01-31T01:00:00+01:00") == parse_time("2026-01-31T00:00:00Z")


def test_tail_prints_the_last_records(url, capsys):
    now = time.time()
    _write(
        url,
        [
            {
                "ts": now,
                "request_id": f"req_{i}",
                "action": "allow",
                "rule": "r",
                "status": 200,
                "timings_ms": {"total": 1.5},
            }
            for i in range(5)
        ]
        + [
            {
                "ts": now,
                "kind": "review",
                "request_id": "req_4",
                "review_id": "rev_9",
                "action": "rejected",
                "reviewer": "bob",
                "reason": "fake package",
                "rule": "r",
            }
        ],
    )
    assert main(["audit", "tail", "-n", "2", "--store", url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and "req_4" in lines[0] and "action=allow" in lines[0]
    assert "review" in lines[1] and "reviewer=bob" in lines[1] and "'fake package'" in lines[1]
    assert main(["audit", "tail", "-n", "1", "--json", "--kind", "review", "--store", url]) == 0
    assert orjson.loads(capsys.readouterr().out)["review_id"] == "rev_9"


def test_review_cli_add_list_revoke(url, capsys):
    assert main(["review", "add-reviewer", "alice", "--role", "admin", "--store", url]) == 0
    captured = capsys.readouterr()
    token = captured.out.strip()
    assert token.startswith("lvr_") and "shown only once" in captured.err

    async def who(t: str):
        store = await open_store(url)
        try:
            return await Accounts(store).by_token(t)
        finally:
            await store.close()

    assert asyncio.run(who(token)).role == "admin"
    assert main(["review", "list", "--store", url]) == 0
    listing = capsys.readouterr().out
    assert "alice" in listing and "admin" in listing and token not in listing
    assert main(["review", "revoke", "alice", "--store", url]) == 0
    assert asyncio.run(who(token)) is None
    assert main(["review", "revoke", "alice", "--store", url]) == 1
    assert main(["review", "add-reviewer", "no spaces please", "--store", url]) == 2
    assert "invalid reviewer name" in capsys.readouterr().err


def test_tail_follow_prints_only_new_records(url):
    """`tail -n 0 -f` (and `--kind` with no match yet) must not replay the history when following."""
    import subprocess
    import sys

    _write(url, [{"ts": time.time(), "request_id": f"req_old{i}", "action": "allow"} for i in range(3)])
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "llmvet", "audit", "tail", *extra, "-f", "--json", "--store", url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for extra in (["-n", "0"], ["--kind", "review"])
    ]
    try:
        time.sleep(4)  # both have read the history and are following
        _write(url, [{"ts": time.time(), "kind": "review", "request_id": "req_new", "action": "approved"}])
        time.sleep(2.5)
    finally:
        for p in procs:
            p.terminate()
    for p in procs:
        out, _ = p.communicate(timeout=10)
        assert [orjson.loads(x)["request_id"] for x in out.splitlines()] == ["req_new"]


@pytest.mark.parametrize(
    "argv",
    [
        ["audit", "tail"],
        ["audit", "export", "--since", "1h"],
        ["review", "list"],
        ["review", "add-reviewer", "alice"],
        ["review", "revoke", "alice"],
    ],
)
def test_an_unreachable_store_is_a_message_not_a_traceback(argv, capsys):
    assert main([*argv, "--store", "redis://127.0.0.1:1/0"]) == 2
    assert "cannot read the store redis://127.0.0.1:1/0" in capsys.readouterr().err


def test_names_with_brackets_are_printed_not_parsed(url, capsys):
    assert main(["review", "add-reviewer", "[/x]", "--store", url]) == 2
    assert "invalid reviewer name '[/x]'" in capsys.readouterr().err
    assert main(["review", "revoke", "[/x]", "--store", url]) == 1
    assert "no active reviewer named '[/x]'" in capsys.readouterr().err
    assert main(["audit", "export", "--since", "[/x]", "--store", url]) == 2
    assert "cannot read '[/x]' as a time" in capsys.readouterr().err


def test_review_reindex_lists_items_an_older_version_queued(url, capsys):
    """A rolling upgrade: the new version indexed the store at its start, then an older replica queued
    an item the plain way (no index). `llmvet review reindex` makes it list."""
    from llmvet.review.queue import ReviewQueue
    from llmvet.store import keys

    async def pending_ids(setup: bool) -> list[str]:
        store = await open_store(url)
        try:
            queue = ReviewQueue(store)
            if setup:
                await queue.start()  # the new version's start: layout marked as indexed
                await queue.close()
                old = {"id": "rev_00000000001old", "created": time.time(), "status": "pending", "rule": "r"}
                await store.set(keys.REVIEW_ITEMS, old["id"], old)  # what the older version writes
            return [i["id"] for i in await queue.pending()]
        finally:
            await store.close()

    assert asyncio.run(pending_ids(setup=True)) == []
    assert main(["review", "reindex", "--store", url]) == 0
    assert "indexed 1 review item(s)" in capsys.readouterr().out
    assert asyncio.run(pending_ids(setup=False)) == ["rev_00000000001old"]
