"""Packages reviewers allow from a finding, per policy: recorded in the audit stream and revertible.

Layout (key format in llmvet.store.keys): ns ALLOWLIST, key allowlist_key(policy, ecosystem, package) ->
  {"policy", "ecosystem", "package", "added_by", "reason", "review_id", "finding", "at"}
The packages validator reads the same keys.
"""

from __future__ import annotations

import time
from typing import Any

from llmvet import audit
from llmvet.records import AuditRecord
from llmvet.store import keys
from llmvet.store.base import Store
from llmvet.store.keys import allowlist_key

NS = keys.ALLOWLIST
ECOSYSTEMS = ("pypi", "npm")


async def add(
    store: Store,
    policy: str,
    ecosystem: str,
    package: str,
    *,
    by: str,
    reason: str = "",
    review_id: str | None = None,
    finding: dict[str, Any] | None = None,
) -> dict[str, Any]:
    ecosystem = ecosystem.strip().lower()
    if ecosystem not in ECOSYSTEMS:
        raise ValueError(f"unknown ecosystem {ecosystem!r} (one of {', '.join(ECOSYSTEMS)})")
    if not package.strip() or len(package) > 214 or "/" in package.strip("@").replace("/", "", 1):
        raise ValueError(f"invalid package name {package!r}")
    key = allowlist_key(policy, ecosystem, package)
    entry: dict[str, Any] = {
        "key": key,
        "policy": policy,
        "ecosystem": ecosystem,
        "package": package.strip(),
        "added_by": by,
        "reason": reason,
        "review_id": review_id,
        "finding": finding,
        "at": time.time(),
    }
    await store.set(NS, key, entry)
    await audit.write_now(
        store,
        [
            AuditRecord(
                ts=entry["at"],
                kind="allowlist.add",
                policy=policy,
                key=key,
                package=package.strip(),
                ecosystem=ecosystem,
                reviewer=by,
                reason=reason,
                review_id=review_id,
            )
        ],
    )
    return entry


async def revert(store: Store, key: str, *, by: str) -> dict[str, Any] | None:
    entry = await store.get(NS, key)
    if entry is None or not await store.delete(NS, key):
        return None
    await audit.write_now(
        store,
        [
            AuditRecord(
                ts=time.time(),
                kind="allowlist.revert",
                policy=entry["policy"],
                key=key,
                package=entry["package"],
                ecosystem=entry["ecosystem"],
                reviewer=by,
                added_by=entry["added_by"],
                review_id=entry.get("review_id"),
            )
        ],
    )
    return entry


async def entries(store: Store, policy: str | None = None) -> list[dict[str, Any]]:
    found_keys = await store.keys(NS, keys.allowlist_prefix(policy))
    found = await store.get_many(NS, found_keys)
    return [found[k] for k in found_keys if k in found]
