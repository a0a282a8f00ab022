"""Audit retention: records older than a setting, or beyond the newest N, are deleted by a periodic
task, on SQLite and on a real redis-server; decided review items expire through their own TTL."""

from __future__ import annotations

import asyncio
import time

import httpx
import openai
import pytest

from llmvet.audit import AuditLog, AuditRetention
from llmvet.store import keys
from tests.support.metrics import metric_value, parse_metrics
from tests.support.review_helpers import read_audit

POLICY = """
version: 1
name: retention-test
rules:
  - name: vetted
    validators:
      - use: regex
        with: {must_not_match: ["forbidden"], severity: high}
        on_fail: block
"""


async def test_retention_by_age_then_by_count(store):
    await store.append(keys.AUDIT, [{"n": i} for i in range(3)])
    await asyncio.sleep(0.3)
    await store.append(keys.AUDIT, [{"n": i} for i in range(3, 6)])
    by_age = AuditRetention(store, keep_seconds=0.15)
    assert by_age.enabled and await by_age.run_once() == 3  # the three older than 0.15 s
    assert [r["n"] for _, r in await store.read(keys.AUDIT)] == [3, 4, 5]
    by_count = AuditRetention(store, max_records=1)
    assert await by_count.run_once() == 2
    assert [r["n"] for _, r in await store.read(keys.AUDIT)] == [5]
    assert (by_age.removed, by_count.removed) == (3, 2)
    assert not AuditRetention(store).enabled  # both settings 0: the task never starts


async def test_the_audit_log_runs_retention_periodically(store):
    audit = AuditLog(store, interval=0.05, retention=AuditRetention(store, max_records=2, every=0.05))
    audit.start()
    try:
        for n in range(5):
            audit.record({"request_id": f"r{n}"})
            await asyncio.sleep(0.08)
        deadline = time.monotonic() + 3
        while len(await store.read(keys.AUDIT)) > 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        await audit.close()
    left = [r["request_id"] for _, r in await store.read(keys.AUDIT)]
    assert left[-2:] == ["r3", "r4"] and len(left) <= 3  # the newest kept; close() may flush one more


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_proxy_keeps_only_the_newest_records(make_proxy, fake, redis_url, tmp_path, backend):
    if backend == "redis":
        import redis

        redis.Redis.from_url(redis_url).flushdb()
    url = redis_url if backend == "redis" else f"sqlite:///{tmp_path / 'r.db'}"
    server = make_proxy(POLICY, store=url, audit_max_records=2, audit_retention_interval=0.1)
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="sk-test", max_retries=0)
    ids = []
    for n in range(5):
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-x", messages=[{"role": "user", "content": f"q{n}"}]
        )
        ids.append(raw.headers["x-llmvet-request-id"])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        kept = [r["request_id"] for r in read_audit(url) if "request_id" in r]
        if kept == ids[-2:]:
            break
        time.sleep(0.1)
    assert kept == ids[-2:]
    # what retention deleted is counted: 5 responses written, 2 kept (records the count misses are
    # still in the store, so the metric and the store agree)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        dropped = metric_value(
            parse_metrics(httpx.get(server.url + "/metrics").text), "llmvet_audit_records_dropped_total"
        )
        if dropped >= 3:
            break
        time.sleep(0.1)
    assert dropped == 5 - len(read_audit(url))
