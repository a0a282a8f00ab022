"""Request-path metric updates summed in plain Python, handed to prometheus-client in batches.

Each `Counter.inc` and `Histogram.observe` of prometheus-client checks the metric and takes a lock; a
vetted request made 11 such calls, 6 % of the default policy's instructions per request
(benchmarks/request_instructions.py). Here a request adds to an int or a bucket of a list, and `flush`
passes the sums on with one call per series and bucket. The metrics flush before every scrape, so a
single process's /metrics is always exact; observe's background task also flushes every second, so in
multiprocess mode a scrape answered by one worker sees the others' counts of a second ago at most.

All of it runs on the event loop's thread (the proxy's finish hook, its middleware, the /metrics
handler, the background task): no lock is needed.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any


class HistogramTally:
    """Observations of one histogram child (one label set) since the last flush, by bucket."""

    __slots__ = ("_bounds", "_child", "_counts", "_sum")

    def __init__(self, child: Any) -> None:
        self._child = child
        # prometheus-client's buckets: each observation lands in the first whose upper bound is >= it
        # (the last bound is +Inf), counted per bucket, not cumulatively; plus one running sum.
        self._bounds: tuple[float, ...] = tuple(child._upper_bounds)
        self._counts = [0] * len(self._bounds)
        self._sum = 0.0

    def add(self, value: float) -> None:
        self._counts[bisect_left(self._bounds, value)] += 1
        self._sum += value

    def flush(self) -> None:
        counts, total = self._counts, self._sum
        if not any(counts):
            return
        self._counts, self._sum = [0] * len(self._bounds), 0.0
        buckets = self._child._buckets
        for i, n in enumerate(counts):
            if n:
                buckets[i].inc(n)
        self._child._sum.inc(total)


class Tally:
    """Counter increments and histogram observations waiting for the next flush."""

    def __init__(self) -> None:
        # (prometheus-client's label children compare by identity: each is its own key)
        self._counts: dict[Any, float] = {}  # counter child -> amount
        self._histograms: dict[Any, HistogramTally] = {}  # histogram child -> its tally

    def count(self, child: Any, amount: float = 1) -> None:
        counts = self._counts
        counts[child] = counts.get(child, 0) + amount

    def histogram(self, child: Any) -> HistogramTally:
        """The tally of one histogram child (kept for the life of the process, like the child)."""
        tally = self._histograms.get(child)
        if tally is None:
            tally = self._histograms[child] = HistogramTally(child)
        return tally

    def flush(self) -> None:
        counts, self._counts = self._counts, {}
        for child, amount in counts.items():
            child.inc(amount)
        for tally in self._histograms.values():
            tally.flush()
