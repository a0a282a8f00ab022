"""Packages reviewers allow from a finding, per policy: recorded in the audit stream and revertible.

Layout: ns "allowlist", key "<policy name>/<ecosystem>/<normalised package>" ->
  {"policy", "ecosystem", "package", "added_by", "reason", "review_id", "finding", "at"}
A validator checks one package with `store.get("allowlist", allowlist_key(policy, ecosystem, name))`
or loads a policy's whole list with `store.keys("allowlist", f"{policy}/")`.
"""

from __future__ import annotations

import re
import time
from typing import Any

from llmvet.store.base import Store

NS = "allowlist"
ECOSYSTEMS = ("pypi", "npm")
_PYPI_NORM = re.compile(r"[-_.]+")


def normalise(ecosystem: str, package: str) -> str:
    package = package.strip()
    if ecosystem == "pypi":
        return _PYPI_NORM.sub("-", package).lower()  # PEP 503
    return package.lower()


def allowlist_key(policy: str, ecosystem: str, package: str) -> str:
    return f"{policy}/{ecosystem}/{normalise(ecosystem, package)}"


async def add(store: Store, policy: str, ecosystem: str, package: str, *, by: str, reason: str = "",
              review_id: str | None = None, finding: dict[str, Any] | None = None) -> dict[str, Any]:
    ecosystem = ecosystem.strip().lower()
    if ecosystem not in ECOSYSTEMS:
        raise ValueError(f"unknown ecosystem {ecosystem!r} (one of {', '.join(ECOSYSTEMS)})")
    if not package.strip() or len(package) > 214 or "/" in package.strip("@").replace("/", "", 1):
        raise ValueError(f"invalid package name {package!r}")
    key = allowlist_key(policy, ecosystem, package)
    entry = {"key": key, "policy": policy, "ecosystem": ecosystem, "package": package.strip(), "added_by": by,
             "reason": reason, "review_id": review_id, "finding": finding, "at": time.time()}
    await store.set(NS, key, entry)
    await store.append("audit", [{"ts": entry["at"], "kind": "allowlist.add", "policy": policy, "key": key,
                                  "package": entry["package"], "ecosystem": ecosystem, "reviewer": by,
                                  "reason": reason, "review_id": review_id}])
    return entry


async def revert(store: Store, key: str, *, by: str) -> dict[str, Any] | None:
    entry = await store.get(NS, key)
    if entry is None or not await store.delete(NS, key):
        return None
    await store.append("audit", [{"ts": time.time(), "kind": "allowlist.revert", "policy": entry["policy"], "key": key,
                                  "package": entry["package"], "ecosystem": entry["ecosystem"], "reviewer": by,
                                  "added_by": entry["added_by"], "review_id": entry.get("review_id")}])
    return entry


async def entries(store: Store, policy: str | None = None) -> list[dict[str, Any]]:
    keys = await store.keys(NS, f"{policy}/" if policy else "")
    found = await store.get_many(NS, keys)
    return [found[k] for k in keys if k in found]
