"""A serving process's start-up objects, moved out of the garbage collector's way.

A full (generation 2) collection walks every tracked object: in `llmvet serve` most of them are what
start-up made (modules, the policy, validators' models) and live as long as the process. Measured
with 2 servers under the default policy, 80 streamed answers each: one full collection in each, a
193 ms pause without this (every stream on the loop stalls that long), 3 ms with it (66,252 objects
frozen). Only `llmvet serve` turns it on: an app built inside another program (tests, tools) leaves
that program's heap alone.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger("llmvet.proxy")

FREEZE = False  # set by `llmvet serve` in the process that serves


def freeze_after_startup() -> None:
    """Collect once, then exempt everything still alive from later collections (`gc.freeze`)."""
    if not FREEZE:
        return
    gc.collect()
    gc.freeze()
    log.info("start-up done: %d objects exempt from garbage collection", gc.get_freeze_count())
