"""The lifespan's shutdown steps, each bounded: a store that stopped answering or a connection that
never finishes closing (aiohttp waits for a socket's unsent bytes to flush before its close completes)
must not keep a stopped replica alive until its orchestrator kills it.

The steps share one budget (`BUDGET` seconds); each also has its own cap, so one hung step leaves time
for the next ones. What a cut step leaves undone is safe to leave: the heartbeat entry expires, the audit
records not yet in the store are in the audit journal (the next start writes them).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger("llmvet.proxy")
BUDGET = 10.0  # seconds for every step together


class Shutdown:
    def __init__(self, budget: float = BUDGET) -> None:
        self.deadline = asyncio.get_running_loop().time() + budget

    async def step(self, name: str, start: Callable[[], Awaitable[Any]], cap: float) -> None:
        """Run one step for at most `cap` seconds (and never past the budget, but for a last 0.5 s)."""
        limit = max(min(cap, self.deadline - asyncio.get_running_loop().time()), 0.5)
        task = asyncio.ensure_future(start())
        done, _ = await asyncio.wait({task}, timeout=limit)
        if not done:
            task.cancel()
            log.warning("shutdown: %s did not finish within %.1fs; going on without it", name, limit)
        elif not task.cancelled() and (exc := task.exception()) is not None:
            log.warning("shutdown: %s failed: %s: %s", name, type(exc).__name__, exc)
