"""This replica's policy version in the shared store: a heartbeat with a TTL, and at once after a reload.

Replicas sharing a store can then be seen to converge: `/readyz` lists every live replica's
version, the observe extension counts them in `llmvet_policy_replicas`, and `llmvet report` warns
when they disagree for longer than `LLMVET_POLICY_DISAGREE_WARN`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time

from llmvet.audit import RepeatedErrors
from llmvet.proxy.runtime import Runtime
from llmvet.store import serving

log = logging.getLogger("llmvet.proxy.heartbeat")
TTL_BEATS = 3  # an entry outlives this many missed heartbeats, then the replica drops out


class Heartbeat:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.replica = f"{socket.gethostname()}:{rt.settings.port}/{os.getpid()}"
        self.interval = rt.settings.policy_heartbeat_interval
        self._task: asyncio.Task[None] | None = None
        self._errors = RepeatedErrors(log, "policy heartbeat")

    def entry(self) -> serving.Serving:
        policy = self.rt.policy
        return serving.Serving(
            replica=self.replica,
            policy=f"{policy.name}@{policy.version}",
            since=self.rt.serving_since,
            at=time.time(),
        )

    async def beat(self) -> None:
        assert self.rt.resources is not None
        await serving.publish(self.rt.resources.store, self.entry(), ttl=self.interval * TTL_BEATS)

    async def _run(self) -> None:
        while True:
            self.rt.policy_changed.clear()
            try:
                await self.beat()
            except Exception as exc:  # the store is down: readiness says so; keep beating
                self._errors.failed(exc, "retrying")
            else:
                self._errors.recovered()
            # The next beat comes after the interval, or at once when a reload swaps the policy.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.rt.policy_changed.wait(), self.interval)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="llmvet-policy-heartbeat")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        if self.rt.resources is not None:
            with contextlib.suppress(Exception):
                await serving.withdraw(self.rt.resources.store, self.replica)

    async def replicas(self) -> dict[str, object]:
        """For /readyz: every live replica's policy, and whether they agree."""
        assert self.rt.resources is not None
        entries = await serving.live(self.rt.resources.store)
        return {
            "replica": self.replica,
            "replicas": {e["replica"]: e["policy"] for e in entries},
            "converged": len(serving.versions(entries)) <= 1,
        }
