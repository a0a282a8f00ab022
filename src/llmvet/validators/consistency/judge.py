"""The LLM-judge mode (SelfCheckGPT's "prompt" variant): for each other answer, one upstream call asks a
judge model whether each sentence of the answer is supported by it.

All sentences go in one call per other answer, at temperature 0, with a JSON reply asked for (and
`response_format: json_object` on the chat route). A sentence scores the share of other answers whose
judge reply says it is not supported (yes 0, no 1, n/a 0.5). A reply that is not that JSON is an error,
never a guess.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from llmvet.validators.base import Context
from llmvet.validators.consistency import sampling
from llmvet.validators.consistency.config import ConsistencyConfig

_VALUES = {"yes": 0.0, "true": 0.0, "no": 1.0, "false": 1.0, "n/a": 0.5, "na": 0.5, "unknown": 0.5}
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")
TOKENS_PER_SENTENCE = 8  # '"yes", ' and some slack


class JudgeError(RuntimeError):
    """The judge's reply could not be read (`usage`: what the judge calls cost all the same)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.usage: dict[str, int] = {}
        self.calls = 0


@dataclass(slots=True)
class Judged:
    scores: list[float]  # per sentence: the share of other answers not supporting it
    usage: dict[str, int] = field(default_factory=dict)
    calls: int = 0


def reply_cap(n_sentences: int) -> int:
    return TOKENS_PER_SENTENCE * n_sentences + 48


def estimate(cfg: ConsistencyConfig, answer: str, n_sentences: int, sample_cap: int) -> int:
    """Estimated tokens of one judge call (the template, the answer's sentences, one other answer, the reply)."""
    return (
        sampling.estimate_tokens(cfg.judge_template)
        + sampling.estimate_tokens(answer)
        + sample_cap
        + reply_cap(n_sentences)
    )


def prompt(template: str, sentences: Sequence[str], other: str) -> str:
    numbered = "\n".join(f"{i}. {s}" for i, s in enumerate(sentences, 1))
    return template.format(sample=other.strip(), sentences=numbered, count=len(sentences))


def parse(text: str, count: int) -> list[float]:
    """The judge's reply -> one value per sentence; raises JudgeError on anything else."""
    body = _FENCE.sub("", text.strip())
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise JudgeError(f"not JSON ({exc.__class__.__name__}): {text[:120]!r}") from None
    items = data.get("verdicts") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise JudgeError(f'no "verdicts" list: {text[:120]!r}')
    if len(items) != count:
        raise JudgeError(f"{len(items)} verdicts for {count} sentences: {text[:120]!r}")
    out = []
    for item in items:
        key = str(item).strip().lower() if not isinstance(item, bool) else str(item).lower()
        if key not in _VALUES:
            raise JudgeError(f"verdict {item!r} is not yes, no or n/a")
        out.append(_VALUES[key])
    return out


async def judge(cfg: ConsistencyConfig, ctx: Context, sentences: Sequence[str], others: Sequence[str]) -> Judged:
    """Ask the judge about every sentence once per other answer (concurrently); raises JudgeError."""
    body: dict[str, Any] = {
        sampling.max_tokens_field(ctx.request, ctx.route): reply_cap(len(sentences)),
        "temperature": 0,
        "model": cfg.judge_model or ctx.model or ctx.request.get("model", ""),
    }
    if ctx.route == "chat.completions":
        body["response_format"] = {"type": "json_object"}

    async def one(other: str) -> Any:
        question = prompt(cfg.judge_template, sentences, other)
        if ctx.route == "completions":
            return await ctx.reask({**body, "prompt": question}, None, 1)
        return await ctx.reask(body, [{"role": "user", "content": question}], 1)

    results = await asyncio.gather(*(one(o) for o in others))
    out = Judged([0.0] * len(sentences))
    for res in results:
        out.calls += 1
        for k, v in res.usage.items():
            out.usage[k] = out.usage.get(k, 0) + int(v)
    try:
        per_other = [parse(res.texts[0] if res.texts else "", len(sentences)) for res in results]
    except JudgeError as exc:
        exc.usage, exc.calls = out.usage, out.calls
        raise
    out.scores = [sum(col) / len(per_other) for col in zip(*per_other, strict=True)]
    return out
