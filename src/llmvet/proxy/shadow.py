"""A shadow policy: a candidate that sees the same answers as the enforced one, off the response path.

After a response is decided, the candidate decides the same answer in a background task the
response never waits for. It is never enforced and never re-asks upstream (validators that need
extra samples error, and their `on_error` decides). Its decision goes to the audit log as a
`kind: "shadow"` record with the candidate's name and version and the enforced action beside it,
and the enforced finding codes beside it, which `llmvet report --shadow` and the dashboard compare. At most `shadow_max_pending` checks wait or run at once;
more are dropped and counted, so a slow candidate can never build a backlog.

The candidate is reloadable: a policy reload (SIGHUP, the admin endpoint, the file watch) reads its
file again, and the admin endpoint can name another file or none (`swap`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging

from llmvet.policy.engine import Decision
from llmvet.policy.loader import Policy, load_policy
from llmvet.proxy.answer import Answer
from llmvet.proxy.exchange import Exchange
from llmvet.proxy.recording import audit_record
from llmvet.proxy.runtime import Runtime
from llmvet.proxy.vetting import Vetter

log = logging.getLogger("llmvet.proxy.shadow")


class Shadow:
    def __init__(self, rt: Runtime, vetter: Vetter, policy: Policy | None) -> None:
        self.rt = rt
        self.vetter = vetter
        self.policy: Policy | None = None
        self.swap(policy)
        self.limit = rt.settings.shadow_max_pending
        self.pending = 0
        self.dropped = 0
        self.checked = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def swap(self, policy: Policy | None) -> None:
        """Decide with `policy` from now on (None: no candidate; responses then pay nothing for it).
        Checks already running finish with the candidate they started with."""
        self.policy = policy
        self.rt.after_finish = self.submit if policy is not None else None

    def submit(self, ex: Exchange, answer: Answer, decision: Decision) -> None:
        """Called as a response is finished; schedules the candidate's look, or drops it when full."""
        if self.pending >= self.limit:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("shadow policy is behind: %d checks dropped so far", self.dropped)
            return
        self.pending += 1
        if self.policy is None:
            return
        codes = list(dict.fromkeys(f.code for f in decision.findings))
        check = self._check(ex, answer, self.policy, decision.action, codes)
        task = asyncio.get_running_loop().create_task(check)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _check(
        self, ex: Exchange, answer: Answer, policy: Policy, enforced: str, enforced_codes: list[str]
    ) -> None:
        try:
            await asyncio.sleep(0)  # let the response go out first
            rule = policy.select(ex.key_label, ex.model, ex.wire.route)
            shadow_ex = dataclasses.replace(
                ex, policy=policy, shadow=True, reasks=0, validate_ms=0.0, upstream_ms=0.0, extra_usage={}
            )
            if rule is None or not rule.validators:
                action, decision = "unvetted", None  # the candidate would not vet this traffic
            else:
                shadow_ex.rule = rule
                decision = await self.vetter.decide(shadow_ex, answer)
                action = decision.action
            record = audit_record(self.rt, shadow_ex, answer, decision, 0, action)
            record["kind"] = "shadow"
            record["rule"] = rule.name if rule is not None else "(none)"
            record["enforced_action"] = enforced
            record["enforced_findings"] = enforced_codes
            if self.rt.audit is not None:
                self.rt.audit.record(record)
            self.checked += 1
        except Exception:
            log.exception("shadow policy failed on request %s", ex.request_id)
        finally:
            self.pending -= 1

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def status(self) -> dict[str, object] | None:
        if self.policy is None:
            return None
        return {
            "policy": f"{self.policy.name}@{self.policy.version}",
            "checked": self.checked,
            "dropped": self.dropped,
        }


def attach(rt: Runtime, vetter: Vetter) -> Shadow:
    """The shadow of `settings.shadow_policy` (off until one is set), hooked to every finished response."""
    path = rt.settings.shadow_policy
    return Shadow(rt, vetter, load_policy(path) if path is not None else None)  # a bad file raises PolicyError
