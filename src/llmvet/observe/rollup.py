"""Per-model outcome counts in time buckets, kept in the store so every replica sees one picture.

Each replica sums the audit records it sees into in-memory buckets (off the request path) and writes
one JSON blob per (bucket, replica) to the store; readers add the blobs of all replicas up. A replica
is the only writer of its own blobs, so plain `set` is safe and no counter per category is needed.
Drift detection (drift.py), `llmvet report` and the dashboard all read these buckets.

Field names inside a group's counts:
  n                 responses                     a:<action>       responses per final action
  f:<code>          responses with that finding   p:<code>|none    primary outcome (drift "finding")
  l:<range>         answer length range (chars)   r:<category>     refusals by category
  s:<status>        HTTP status                   v:<validator>:<passed|failed|error|timeout>
  reasks            re-asks (sum)                 tok              extra tokens validators spent (sum)
  budget            verdicts that hit the re-ask budget
  ms_total / ms_upstream / ms_validate            latency sums (ms), for averages
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from bisect import bisect_right
from collections.abc import Mapping
from typing import Any

from llmvet.store import keys
from llmvet.store.base import Store

log = logging.getLogger("llmvet.observe")

NAMESPACE = keys.OBSERVE
REPLICAS_KEY = "replicas"
GROUP_SEP = "\t"  # model<TAB>rule: tabs do not occur in model or rule names
LENGTH_EDGES = (200, 500, 1000, 2000, 4000)  # answer length ranges, in characters
BUDGET_MARK = "budget exhausted"
ABSORB_SLICE = 256  # records summed between two turns of the event loop (~2 ms of CPU)


def group_key(model: str | None, rule: str | None) -> str:
    return f"{model or '-'}{GROUP_SEP}{rule or '-'}"


def split_group(group: str) -> tuple[str, str]:
    model, _, rule = group.partition(GROUP_SEP)
    return model, rule


def _range_names() -> tuple[str, ...]:
    lows = (0, *LENGTH_EDGES)
    return (*(f"{lo}-{edge - 1}" for lo, edge in zip(lows, LENGTH_EDGES, strict=False)), f"{lows[-1]}+")


_RANGE_NAMES = _range_names()  # "0-199" ... "4000+": named once, not per record


def length_range(chars: int) -> str:
    return _RANGE_NAMES[bisect_right(LENGTH_EDGES, chars)]


def validator_outcome(v: dict[str, Any]) -> str:
    """passed | failed | error | timeout | budget (an error because the re-ask budget ran out)."""
    status = v.get("status", "error")
    if status == "error":
        err = v.get("error") or ""
        if err.startswith("timed out after"):
            return "timeout"
        if BUDGET_MARK in err:
            return "budget"
    return status


def primary_code(findings: list[dict[str, Any]]) -> str:
    """The one finding that sums up a response for the drift test: the riskiest, or `none`."""
    best: dict[str, Any] | None = None
    for f in findings:
        if best is None or (f.get("risk") or 0) > (best.get("risk") or 0):
            best = f
    return best["code"] if best else "none"


class Counts(dict[str, float]):
    """One group's sums. Like a Counter (a missing field reads as 0, `add` sums another group's fields
    in), but typed for the float latency sums beside the integer counts (JSON keeps ints as ints)."""

    __slots__ = ()

    def __missing__(self, key: str) -> float:
        return 0

    def add(self, other: Mapping[str, float]) -> None:
        for k, v in other.items():
            self[k] += v


def record_fields(rec: Mapping[str, Any]) -> Counts:
    """What one audit record adds to its group's counts."""
    c = Counts()
    add_record(c, rec)
    return c


def add_record(c: Counts, rec: Mapping[str, Any]) -> None:
    """Sum one audit record's fields into `c`, straight into its group's counts when absorbing (no
    dict per record to build and add up: the sums and the order fields first appear are the same)."""
    c["n"] += 1
    c["a:" + str(rec.get("action"))] += 1
    c["s:" + str(rec.get("status"))] += 1
    findings = rec.get("findings")
    if not findings:  # most records (no comprehension or loop to set up for them)
        c["p:none"] += 1
    else:
        for code in {f.get("code", "?") for f in findings}:
            c["f:" + code] += 1
        c["p:" + primary_code(findings)] += 1
        for f in findings:
            if "refusal" in (f.get("code") or ""):
                cat = (f.get("evidence") or {}).get("category") or "unspecified"
                c["r:" + str(cat)] += 1
    chars = rec.get("response_chars")
    if isinstance(chars, int):
        c["l:" + length_range(chars)] += 1
    for v in rec.get("validators") or []:
        outcome = validator_outcome(v)
        c[f"v:{v.get('validator', '?')}:{outcome}"] += 1
        if outcome == "budget":
            c["budget"] += 1
    if rec.get("reasks"):
        c["reasks"] += int(rec["reasks"])
    usage = rec.get("extra_usage")
    if usage:
        tok = usage.get("total_tokens") or (usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0))
        if tok:
            c["tok"] += int(tok)
    t = rec.get("timings_ms") or {}
    c["ms_total"] += float(t.get("total") or 0)
    c["ms_upstream"] += float(t.get("upstream") or 0)
    c["ms_validate"] += float(t.get("validate") or 0)


Buckets = dict[int, dict[str, Counts]]  # bucket start (epoch s) -> group -> counts


class Rollup:
    """One replica's side: sum records into buckets, write them, read everybody's back."""

    def __init__(
        self,
        store: Store,
        *,
        bucket_seconds: int = 300,
        retention_seconds: float = 26 * 3600,
        replica: str | None = None,
    ) -> None:
        self.store = store
        self.bucket_seconds = bucket_seconds
        self.retention = retention_seconds
        self.replica = replica or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self._pending: list[Mapping[str, Any]] = []  # audit records (a TypedDict upstream of here)
        self._mine: Buckets = {}
        self._dirty: set[int] = set()
        self._registered_at = 0.0
        self._closed_cache: dict[int, dict[str, Counts]] = {}
        self._lock: asyncio.Lock | None = None

    def bucket_of(self, ts: float) -> int:
        return int(ts // self.bucket_seconds) * self.bucket_seconds

    # ---- write side ------------------------------------------------------------------------------
    def add(self, rec: Mapping[str, Any]) -> None:
        """O(1) on the request path: the record is only queued."""
        self._pending.append(rec)

    def absorb(self, limit: int | None = None) -> int:
        """Sum the queued records (the `limit` oldest, if given) into buckets; returns how many."""
        if limit is None or limit >= len(self._pending):
            pending, self._pending = self._pending, []
        else:
            pending, self._pending = self._pending[:limit], self._pending[limit:]
        for rec in pending:
            b = self.bucket_of(rec.get("ts") or time.time())
            groups = self._mine.setdefault(b, {})
            counts = groups.get(g := group_key(rec.get("model"), rec.get("rule")))
            if counts is None:
                counts = groups[g] = Counts()
            add_record(counts, rec)
            self._dirty.add(b)
        return len(pending)

    async def flush(self, now: float | None = None) -> None:
        """Write this replica's changed buckets; forget buckets that can no longer change."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # the background task and a dashboard request may flush at once
            await self._flush(time.time() if now is None else now)

    async def absorb_all(self) -> None:
        """`absorb()` a slice at a time, giving the loop back between slices: at ~2,000 requests a second,
        one second's records cost 15-20 ms of CPU to sum, and summed at once every request waited for it."""
        while self.absorb(ABSORB_SLICE) == ABSORB_SLICE:
            await asyncio.sleep(0)

    async def _flush(self, now: float) -> None:
        await self.absorb_all()
        if not self._dirty:
            return
        await self._register(now)
        for b in sorted(self._dirty):
            blob = {g: dict(c) for g, c in self._mine[b].items()}
            await self.store.set(NAMESPACE, f"b:{b}:{self.replica}", blob, ttl=self.retention)
        self._dirty.clear()
        # Late records for an old bucket start a fresh sum there, which would overwrite the blob:
        # keep each bucket in memory a full bucket past its end.
        for b in [b for b in self._mine if b + 2 * self.bucket_seconds < now]:
            del self._mine[b]

    async def _register(self, now: float) -> None:
        if now - self._registered_at < 60:
            return
        reg = await self.store.get(NAMESPACE, REPLICAS_KEY) or {}
        reg = {r: seen for r, seen in reg.items() if seen > now - self.retention}
        reg[self.replica] = now
        await self.store.set(NAMESPACE, REPLICAS_KEY, reg)
        # Another replica may have written the registry at the same moment: check on the next flush.
        check = await self.store.get(NAMESPACE, REPLICAS_KEY) or {}
        self._registered_at = now if self.replica in check else 0.0

    # ---- read side ------------------------------------------------------------------------------------
    async def read(self, since: float, until: float | None = None) -> Buckets:
        return await read_buckets(self.store, since, until, self.bucket_seconds, self._closed_cache)


async def read_buckets(
    store: Store,
    since: float,
    until: float | None = None,
    bucket_seconds: int = 300,
    cache: dict[int, dict[str, Counts]] | None = None,
) -> Buckets:
    """Every replica's counts for the buckets overlapping [since, until], summed per bucket and group.

    With `cache`, buckets long closed are read once and kept (they no longer change).
    """
    until = time.time() if until is None else until
    first = int(since // bucket_seconds) * bucket_seconds
    buckets = list(range(first, int(until) + 1, bucket_seconds))
    settled = until - bucket_seconds - 30  # a bucket ended this long ago has had its last flush
    out: Buckets = {}
    todo = []
    for b in buckets:
        if cache is not None and b in cache:
            out[b] = cache[b]
        else:
            todo.append(b)
    if todo:
        replicas = list((await store.get(NAMESPACE, REPLICAS_KEY) or {}).keys())
        keys = [f"b:{b}:{r}" for b in todo for r in replicas]
        blobs = await store.get_many(NAMESPACE, keys) if keys else {}
        for b in todo:
            merged: dict[str, Counts] = {}
            for r in replicas:
                for g, counts in (blobs.get(f"b:{b}:{r}") or {}).items():
                    merged.setdefault(g, Counts()).add(counts)
            out[b] = merged
            if cache is not None and b + bucket_seconds < settled:
                cache[b] = merged
    if cache is not None:
        for b in [b for b in cache if b < first]:
            del cache[b]
    return out


def total(buckets: Buckets, group: str | None = None) -> dict[str, Counts]:
    """Sum buckets per group (or only `group`)."""
    out: dict[str, Counts] = {}
    for groups in buckets.values():
        for g, counts in groups.items():
            if group is None or g == group:
                out.setdefault(g, Counts()).add(counts)
    return out


def dimension(counts: Mapping[str, float], prefix: str) -> dict[str, float]:
    """The categories of one dimension (e.g. "a:" for decisions), prefix stripped."""
    return {k[len(prefix) :]: v for k, v in counts.items() if k.startswith(prefix) and v}
