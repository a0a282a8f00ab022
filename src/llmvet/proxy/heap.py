"""A serving process's start-up objects, moved out of the garbage collector's way.

A full (generation 2) collection walks every tracked object: in `llmvet serve` most of them are what
start-up made (modules, the policy, validators' models) and live as long as the process. Measured
with 2 servers under the default policy, 80 streamed answers each: one full collection in each, a
193 ms pause without this (every stream on the loop stalls that long), 3 ms with it (66,252 objects
frozen). Only `llmvet serve` turns it on: an app built inside another program (tests, tools) leaves
that program's heap alone.

The young generation's threshold is raised too. At 700 (Python's default) it is crossed by the
objects requests in flight hold for a moment, not by garbage: at 32 connections under the default
policy a collection ran every ~10 requests and found almost nothing, ~25 µs of CPU per request. At
10,000 the same load gives a few collections per 10,000 requests (each a pause of ~3 ms), and
reference cycles that are garbage still get collected.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger("llmvet.proxy")

FREEZE = False  # set by `llmvet serve` in the process that serves
YOUNG_THRESHOLD = 10_000  # tracked objects allocated (net) before a young-generation collection


def freeze_after_startup() -> None:
    """Collect once, then exempt everything still alive from later collections (`gc.freeze`)."""
    if not FREEZE:
        return
    gc.collect()
    gc.freeze()
    young, older, oldest = gc.get_threshold()
    gc.set_threshold(max(YOUNG_THRESHOLD, young), older, oldest)
    log.info(
        "start-up done: %d objects exempt from garbage collection; young-generation threshold %d",
        gc.get_freeze_count(),
        gc.get_threshold()[0],
    )
