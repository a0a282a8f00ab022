"""The one storage interface: caches, counters, append-only logs (audit), sorted indexes (the
review queue's listing) and wake-up channels.

Values are JSON-able objects. Keys and records have the same schema whichever backend holds them,
so the same test suite runs against SQLite and Redis.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Store(Protocol):
    url: str

    async def get(self, ns: str, key: str) -> Any | None:
        """The value stored under (ns, key), or None if absent or expired."""

    async def get_many(self, ns: str, keys: list[str]) -> dict[str, Any]:
        """Values of the keys that are present (absent ones are left out)."""

    async def set(self, ns: str, key: str, value: Any, ttl: float | None = None) -> None:
        """Store value; `ttl` seconds (None = forever)."""

    async def add(self, ns: str, key: str, value: Any, ttl: float | None = None) -> bool:
        """Store only if absent (or expired); True if stored. Used for leases and idempotency."""

    async def delete(self, ns: str, key: str) -> bool:
        """Remove; True if something was there."""

    async def keys(self, ns: str, prefix: str = "") -> list[str]:
        """Live keys of a namespace starting with prefix (small namespaces only)."""

    async def incr(self, ns: str, key: str, amount: float = 1, ttl: float | None = None) -> float:
        """Add to a counter and return the new value; ttl is set when the counter is created."""

    async def append(
        self, stream: str, records: Sequence[Mapping[str, Any]], mark: tuple[str, str, Any] | None = None
    ) -> list[str]:
        """Append records to an append-only log; returns their ids (opaque, increasing). `mark`
        (ns, key, value) is set in the same atomic write: both happen or neither (the audit journal's
        high-water mark, so a replay after a crash writes no record twice)."""

    async def read(self, stream: str, after: str | None = None, limit: int = 1000) -> list[tuple[str, dict[str, Any]]]:
        """Records after id `after` (from the start if None), oldest first."""

    async def trim(self, stream: str, *, before: float | None = None, keep_last: int | None = None) -> int:
        """Delete records appended before unix time `before` and all but the newest `keep_last`;
        returns how many went (retention: the log is append-only otherwise)."""

    # ---- sorted indexes: members ordered by a score (Redis sorted sets, an indexed SQLite table) -------
    async def index_put(self, index: str, members: Mapping[str, float]) -> None:
        """Add members with their scores (or move existing ones to the new score)."""

    async def index_drop(self, index: str, members: Sequence[str]) -> int:
        """Remove members; returns how many were there."""

    async def index_drop_below(self, index: str, score: float) -> int:
        """Remove every member scored below `score`; returns how many went."""

    async def index_range(
        self,
        index: str,
        *,
        lo: float | None = None,
        hi: float | None = None,
        offset: int = 0,
        limit: int | None = None,
        descending: bool = False,
    ) -> list[tuple[str, float]]:
        """(member, score) with lo <= score <= hi, by score (ties by member), paged; cost grows with
        offset + limit, not with the size of the index."""

    async def index_count(self, index: str) -> int:
        """How many members the index holds, without reading them."""

    # ---- wake-ups ------------------------------------------------------------------------------------
    async def publish(self, channel: str, message: str) -> None:
        """Tell the channel's subscribers (Redis: in every process; SQLite: in this process only)."""

    def subscribe(self, channel: str) -> AsyncIterator[str | None]:
        """The channel's messages, forever. None comes first and after every reconnection: messages may
        have been missed then, so a subscriber should look again at whatever it waits for."""
        ...

    async def ping(self) -> bool:
        """True when the backend answers."""

    async def writable(self) -> bool:
        """True when the store can write now (readiness): its latest real write did not fail and a
        small probe write succeeds. False, or the backend's error, when it cannot (e.g. a full disk)."""

    async def close(self) -> None: ...
