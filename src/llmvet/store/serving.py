"""The policy each replica serves, published to the shared store so replicas can be seen to converge.

Every replica writes one entry under its id with a TTL a few heartbeats long (a replica that stops
beating drops out by itself); readers list the live entries. `disagreement` says for how long the
live replicas have not all served the same policy version.
"""

from __future__ import annotations

import time
from typing import Any, TypedDict

from llmvet.store import keys
from llmvet.store.base import Store


class Serving(TypedDict):
    replica: str
    policy: str  # name@version
    since: float  # when the replica started serving this version
    at: float  # the heartbeat that wrote the entry


async def publish(store: Store, entry: Serving, ttl: float) -> None:
    await store.set(keys.SERVING, entry["replica"], dict(entry), ttl=ttl)


async def withdraw(store: Store, replica: str) -> None:
    """A replica that stops (drains) leaves the picture at once instead of when its TTL ends."""
    await store.delete(keys.SERVING, replica)


async def live(store: Store) -> list[Serving]:
    """The live replicas' entries, sorted by replica id."""
    ids = await store.keys(keys.SERVING)
    found: dict[str, Any] = await store.get_many(keys.SERVING, ids) if ids else {}
    return [Serving(**found[i]) for i in sorted(found) if isinstance(found[i], dict)]  # type: ignore[typeddict-item]


def versions(entries: list[Serving]) -> dict[str, list[str]]:
    """policy name@version -> the replicas serving it."""
    out: dict[str, list[str]] = {}
    for e in entries:
        out.setdefault(e["policy"], []).append(e["replica"])
    return out


def disagreement(entries: list[Serving], now: float | None = None) -> float:
    """Seconds the live replicas have disagreed (0.0 when they serve one version).

    The version adopted first is the one being replaced; the disagreement began when the first
    replica moved away from it, i.e. at the earliest `since` among replicas serving anything else.
    """
    if len(versions(entries)) < 2:
        return 0.0
    now = time.time() if now is None else now
    oldest = min(entries, key=lambda e: e["since"])["policy"]
    began = min(e["since"] for e in entries if e["policy"] != oldest)
    return max(0.0, now - began)
