"""`LLMVET_AUDIT_KEEP_TEXT=sample RATE`: keep a sample of answers' text so a candidate can be replayed.

Off by default. A kept answer is stored beside its audit record (namespace `audit_text`, keyed by
request id, expiring after `LLMVET_AUDIT_TEXT_KEEP_DAYS`) as the parts the validators read (each
choice's content, refusal, reasoning, tool calls), so `llmvet policy replay` decides exactly what
the live policy decided. Before it is stored, every span a `regex` rule flagged as forbidden (the
secrets a policy looks for) is replaced by the same redacted form findings use; the record counts
the redactions, and a replay reports those answers apart, since their text is no longer the original.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

from llmvet.config import keep_text_rate
from llmvet.policy.engine import Decision
from llmvet.proxy.answer import Answer
from llmvet.proxy.exchange import Exchange
from llmvet.proxy.runtime import Runtime
from llmvet.store import keys
from llmvet.validators.base import Finding
from llmvet.validators.regex import redact

log = logging.getLogger("llmvet.proxy.keep_text")
SECRET_CODES = frozenset({"regex.must_not_match"})


def redacted_parts(ex: Exchange, answer: Answer, findings: list[Finding]) -> tuple[list[dict[str, Any]], int]:
    """The answer's parts with every flagged secret span redacted, and how many spans were."""
    parts = ex.wire.parts(answer.data) if answer.data is not None else ex.wire.stream_parts(answer.events or [])
    spans: dict[tuple[int, str], list[tuple[int, int]]] = {}
    for f in findings:
        if f.code in SECRET_CODES and f.span is not None:
            where = (int(f.evidence.get("choice", 0)), str(f.evidence.get("part", "content")))
            spans.setdefault(where, []).append(f.span)
    out, n = [], 0
    for p in parts:
        text = p.text
        # From the end, so earlier offsets stay valid; overlapping spans are redacted once.
        last = len(text) + 1
        for start, end in sorted(set(spans.get((p.choice, p.label), ())), reverse=True):
            end = min(end, last)
            if start < end:
                text = text[:start] + redact(text[start:end]) + text[end:]
                n += 1
                last = start
        out.append({"choice": p.choice, "label": p.label, "kind": p.kind, "text": text})
    return out, n


class TextKeeper:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.rate = keep_text_rate(rt.settings.audit_keep_text)
        self.ttl = rt.settings.audit_text_keep_days * 86400
        self._tasks: set[asyncio.Task[None]] = set()

    def maybe_keep(self, ex: Exchange, answer: Answer, decision: Decision) -> bool:
        """Called as a vetted response is recorded; True when its text is (being) kept."""
        if self.rate <= 0 or self.rt.resources is None or random.random() >= self.rate:
            return False
        parts, redacted = redacted_parts(ex, answer, decision.findings)
        value = {"parts": parts, "redacted": redacted}
        task = asyncio.get_running_loop().create_task(self._store(ex.request_id, value))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _store(self, request_id: str, value: dict[str, Any]) -> None:
        assert self.rt.resources is not None
        try:
            await self.rt.resources.store.set(keys.AUDIT_TEXT, request_id, value, ttl=self.ttl)
        except Exception as exc:  # the audit record itself is written (and retried) by the audit log
            log.warning("answer text of %s not kept: %s", request_id, exc)

    async def close(self) -> None:
        await asyncio.gather(*self._tasks, return_exceptions=True)
