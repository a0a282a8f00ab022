"""What one check asks the upstream: how many answers of which kind, within the token caps, and the asking.

- samples: the question again, N answers in one call;
- paraphrase: the question restated (one call), then N answers to the restatement, or, with k > 1
  restatements, one answer to each (SAC3: answers to different wordings disagree where a model
  guesses);
- both: the two together, so one instance compares the answer with both kinds.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from llmvet.validators.base import Context, ReaskResult, ReaskUnavailable
from llmvet.validators.consistency import judge, sampling
from llmvet.validators.consistency.config import ConsistencyConfig


@dataclass(slots=True)
class Plan:
    samples: int  # answers to the question itself
    paraphrases: int  # restated questions to ask for
    per_paraphrase: int  # answers to each restatement
    cap: int  # completion cap of each answer
    per_sample: int  # estimated tokens of one answer (prompt + cap)
    restate: int  # estimated tokens of the restatement call
    estimate: int  # everything
    judge_per_sample: int = 0  # estimated tokens of one judge call (judge mode)

    @property
    def n(self) -> int:
        return self.samples + self.paraphrases * self.per_paraphrase

    def to_dict(self) -> dict[str, int]:
        return {
            "n": self.n,
            "samples": self.samples,
            "paraphrases": self.paraphrases,
            "cap": self.cap,
            "per_sample": self.per_sample,
            "restate": self.restate,
            "estimate": self.estimate,
            "judge_per_sample": self.judge_per_sample,
        }


@dataclass(slots=True)
class Gathered:
    texts: list[str]
    usage: dict[str, int] = field(default_factory=dict)
    paraphrases: list[str] = field(default_factory=list)
    calls: int = 0


def plan(cfg: ConsistencyConfig, ctx: Context, n_sentences: int = 1, *, early: bool = False) -> Plan:
    """How many answers fit in `max_extra_tokens` (answers to the question itself are dropped first); in judge
    mode each answer also costs one judge call. `early`: planned before the answer exists (full cap)."""
    prompt_tokens = sampling.estimate_tokens(sampling.conversation(ctx.request))
    cap = sampling.sample_cap(ctx.request, ctx.route, None if early else ctx.text, cfg.max_sample_tokens)
    judging = judge.estimate(cfg, ctx.text, n_sentences, cap) if cfg.judge else 0
    per_sample = prompt_tokens + cap + judging
    samples = cfg.samples if cfg.mode in ("samples", "both") else 0
    k = cfg.paraphrases if cfg.mode in ("paraphrase", "both") else 0
    per_paraphrase = cfg.samples if cfg.mode == "paraphrase" and k == 1 else 1
    restate = 0
    if k:
        q = sampling.estimate_tokens(ctx.prompt)
        restate = sampling.estimate_tokens(cfg.paraphrase_template) + q + k * restate_cap(ctx.prompt)
    room = max(0, cfg.max_extra_tokens - restate) // per_sample
    if k and per_paraphrase > 1:
        per_paraphrase = min(per_paraphrase, room)
    else:
        k = min(k, room)
    samples = min(samples, room - k * per_paraphrase)
    if k == 0 or per_paraphrase == 0:
        k, restate = 0, 0
    n = samples + k * per_paraphrase
    return Plan(samples, k, per_paraphrase, cap, per_sample, restate, restate + n * per_sample, judging)


def restate_cap(question: str) -> int:
    return 2 * sampling.estimate_tokens(question) + 64


async def gather(cfg: ConsistencyConfig, ctx: Context, p: Plan) -> Gathered:
    """Ask for the planned answers; raises ReaskUnavailable when there is no upstream (or no question)."""
    body = sampling.overrides(ctx.request, ctx.route, cfg.temperature, p.cap)
    jobs = []
    if p.samples:
        jobs.append(ctx.reask(body, None, p.samples))
    out = Gathered([])
    if p.paraphrases:
        restated = await _restate(cfg, ctx, p.paraphrases)
        out.calls += 1
        _add(out, restated.usage)
        # A restatement that comes back twice is asked twice: at temperature it is two answers, as in samples mode.
        out.paraphrases = [q for q in (sampling.clean_paraphrase(t) for t in restated.texts) if q]
        for question in out.paraphrases:
            extra, msgs = sampling.with_question(ctx.request, ctx.route, question)
            jobs.append(ctx.reask({**body, **extra}, msgs, p.per_paraphrase))
    for res in await asyncio.gather(*jobs):
        out.texts.extend(res.texts)
        out.calls += 1
        _add(out, res.usage)
    return out


async def _restate(cfg: ConsistencyConfig, ctx: Context, k: int) -> ReaskResult:
    question = ctx.prompt.strip()
    if not question:
        raise ReaskUnavailable("paraphrase mode needs a user question in the request")
    restate_prompt = cfg.paraphrase_template.format(question=question)
    # The restatement is asked on its own, without the conversation (completions: as the prompt).
    extra: dict[str, Any] = {}
    msgs: list[dict[str, Any]] | None = [{"role": "user", "content": restate_prompt}]
    if ctx.route == "completions":
        extra, msgs = {"prompt": restate_prompt}, None
    body = {**sampling.overrides(ctx.request, ctx.route, cfg.temperature, restate_cap(question)), **extra}
    return await ctx.reask(body, msgs, k)


def _add(out: Gathered, usage: dict[str, int]) -> None:
    for k, v in usage.items():
        out.usage[k] = out.usage.get(k, 0) + int(v)
