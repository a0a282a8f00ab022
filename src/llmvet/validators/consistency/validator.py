"""The `consistency` validator: ask again (or ask a paraphrase) and flag sentences the answers do not share."""

from __future__ import annotations

import asyncio
import fnmatch
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from llmvet import embeddings
from llmvet.validators.base import (
    PROSE,
    Context,
    Finding,
    PartKind,
    ReaskResult,
    ReaskUnavailable,
    Sentence,
    StreamMode,
    Validator,
    Verdict,
)
from llmvet.validators.consistency import budget, sampling
from llmvet.validators.consistency.config import ConsistencyConfig
from llmvet.validators.consistency.scoring import (
    Encoder,
    SentenceScore,
    is_factual,
    merge_fragments,
    score_sentences,
    split_sentences,
)

if TYPE_CHECKING:
    from llmvet.resources import Resources

NAME = "consistency"


@dataclass(slots=True)
class _Samples:
    """What the re-asks returned."""

    texts: list[str]
    usage: dict[str, int]  # token usage the upstream reported (empty: unknown)
    paraphrase: str | None  # the restated question (paraphrase mode)
    reask_ms: float


class ConsistencyValidator(Validator[ConsistencyConfig]):
    """SelfCheckGPT-style check (Manakul et al., 2023) with an embedding + word-overlap score."""

    name: ClassVar[str] = NAME
    reads: ClassVar[frozenset[PartKind]] = PROSE  # re-asks compare what the answer says
    Config: ClassVar[type[ConsistencyConfig]] = ConsistencyConfig

    def stream_mode(self) -> StreamMode:
        return "whole"  # judged on the whole answer; text flows meanwhile

    # A model that failed to load is not retried on every answer (each try can take seconds).
    LOAD_RETRY_SECONDS: ClassVar[float] = 60.0

    def __init__(self, config: ConsistencyConfig) -> None:
        super().__init__(config)
        self._semantic = config.semantic_weight > 0
        self._load_error: tuple[float, str] | None = None

    async def warm_up(self, resources: Resources) -> None:
        """Load the embedding model ahead of the first answer (the proxy may call this at start-up)."""
        if self._semantic:
            await self._encoder(resources)

    async def _encoder(self, resources: Resources) -> Encoder:
        if self._load_error and time.monotonic() - self._load_error[0] < self.LOAD_RETRY_SECONDS:
            raise embeddings.EmbeddingsUnavailable(self._load_error[1])
        try:
            cfg = self.config
            return (await embeddings.get_embedder(resources, cfg.embedding_model, cfg.embedding_quantize)).encode
        except embeddings.EmbeddingsUnavailable as exc:
            self._load_error = (time.monotonic(), str(exc))
            raise

    def problems(self) -> list[str]:
        if not self._semantic:
            return []  # lexical-only scoring needs no model
        return embeddings.embedding_problems(self.config.embedding_model)

    # -- triggers -------------------------------------------------------------------------------

    def sentences_to_score(self, ctx: Context) -> list[Sentence]:
        """ctx.sentences (code blocks skipped), splits after initials undone, too-short ones dropped."""
        cfg = self.config
        return [s for s in merge_fragments(ctx.text, ctx.sentences) if len(s.text.split()) >= cfg.min_sentence_words]

    def skip_reason(self, ctx: Context, sentences: list[Sentence]) -> str | None:
        cfg = self.config
        model = (ctx.model or "").lower()
        if not any(fnmatch.fnmatchcase(model, g.lower()) for g in cfg.models):
            return f"model {ctx.model!r} matches none of {cfg.models}"
        if len(ctx.text.strip()) < cfg.min_answer_chars:
            return f"answer shorter than {cfg.min_answer_chars} characters"
        if not sentences:
            return "no sentences to check"
        factual = sum(is_factual(s.text) for s in sentences)
        if factual < cfg.min_factual_sentences:
            return f"{factual} factual sentences (< {cfg.min_factual_sentences})"
        return None

    # -- the check ------------------------------------------------------------------------------

    async def check(self, ctx: Context) -> Verdict:
        cfg = self.config
        sentences = self.sentences_to_score(ctx)
        skip = self.skip_reason(ctx, sentences)
        if skip:
            return Verdict.passed(skipped=skip)
        unscored = max(0, len(sentences) - cfg.max_sentences)  # bounded CPU: only the first max_sentences
        sentences = sentences[: cfg.max_sentences]
        if ctx.resources is None:
            return Verdict.errored("consistency needs the shared resources (store, thread pool)")

        # Load (or reuse) the model before spending tokens, so a missing model costs nothing.
        encoder = None
        if self._semantic:
            try:
                encoder = await self._encoder(ctx.resources)
            except embeddings.EmbeddingsUnavailable as exc:
                return Verdict.errored(str(exc))

        plan = self._plan(ctx)
        if plan["n"] < min(cfg.min_samples, cfg.samples):
            return Verdict.errored(
                f"answer too long for max_extra_tokens={cfg.max_extra_tokens} "
                f"(one re-ask is estimated at {plan['per_sample']} tokens)",
                plan=plan,
            )
        gathered = await self._reask_within_budget(ctx, ctx.resources, plan)
        if isinstance(gathered, Verdict):
            return gathered
        return await self._score(ctx.resources, sentences, encoder, gathered, plan, unscored)

    async def _reask_within_budget(
        self, ctx: Context, resources: Resources, plan: dict[str, int]
    ) -> _Samples | Verdict:
        """Re-ask the upstream, with the estimated tokens reserved against the daily budget and then settled
        to what the upstream reports it spent."""
        cfg = self.config
        key = budget.budget_key(ctx.key_hash)
        reserved = plan["estimate"]
        if cfg.daily_token_budget is not None:
            ok, used = await budget.reserve(resources.store, key, reserved, cfg.daily_token_budget)
            if not ok:
                return Verdict.errored(
                    "budget exhausted",
                    budget={"key": key, "used": used, "limit": cfg.daily_token_budget, "needed": reserved},
                )
        t0 = time.perf_counter()
        spent = 0
        try:
            texts, usage, paraphrase = await self._gather(ctx, plan)
            spent = _total(usage) or reserved
        except ReaskUnavailable as exc:
            return Verdict.errored(f"cannot re-ask: {exc}")
        except asyncio.CancelledError:  # timed out mid-call: the upstream may have spent it, keep the reservation
            spent = reserved
            raise
        finally:
            if cfg.daily_token_budget is not None:
                await budget.settle(resources.store, key, spent - reserved)
        return _Samples(texts, usage, paraphrase, (time.perf_counter() - t0) * 1000)

    async def _score(
        self,
        resources: Resources,
        sentences: list[Sentence],
        encoder: Encoder | None,
        got: _Samples,
        plan: dict[str, int],
        unscored: int,
    ) -> Verdict:
        cfg = self.config
        meta: dict[str, Any] = {
            "mode": cfg.mode,
            "unscored_sentences": unscored,
            "samples": len(got.texts),
            "extra_usage": {**got.usage, "estimated": not _total(got.usage), "calls_n": plan["n"]},
        }
        if got.paraphrase is not None:
            meta["paraphrase"] = got.paraphrase
        sample_sentences = [
            [s.text for s in split_sentences(t)][: cfg.max_sentences * 2] for t in got.texts if t.strip()
        ]
        if not sample_sentences:
            return Verdict.errored("the upstream returned no usable re-asked answers", **meta)

        t1 = time.perf_counter()
        scores = await resources.run_cpu(
            score_sentences, [s.text for s in sentences], sample_sentences, encoder, cfg.semantic_weight
        )
        meta["timings_ms"] = {"reask": round(got.reask_ms, 1), "score": round((time.perf_counter() - t1) * 1000, 1)}
        return self._verdict(sentences, scores, len(sample_sentences), meta)

    def _plan(self, ctx: Context) -> dict[str, int]:
        cfg = self.config
        prompt_tokens = sampling.estimate_tokens(sampling.conversation(ctx.request))
        cap = sampling.sample_cap(ctx.request, ctx.route, ctx.text, cfg.max_sample_tokens)
        per_sample = prompt_tokens + cap
        restate = 0
        if cfg.mode == "paraphrase":
            q = sampling.estimate_tokens(ctx.prompt)
            restate = sampling.estimate_tokens(cfg.paraphrase_template) + q + (2 * q + 64)
        room = cfg.max_extra_tokens - restate
        n = max(0, min(cfg.samples, room // per_sample)) if room > 0 else 0
        return {"n": n, "cap": cap, "per_sample": per_sample, "restate": restate, "estimate": restate + n * per_sample}

    async def _gather(self, ctx: Context, plan: dict[str, int]) -> tuple[list[str], dict[str, int], str | None]:
        cfg = self.config
        body = sampling.overrides(ctx.request, ctx.route, cfg.temperature, plan["cap"])
        if cfg.mode == "samples":
            res = await ctx.reask(body, None, plan["n"])
            return list(res.texts), dict(res.usage), None

        question = ctx.prompt.strip()
        if not question:
            raise ReaskUnavailable("paraphrase mode needs a user question in the request")
        restate_prompt = cfg.paraphrase_template.format(question=question)
        q_cap = 2 * sampling.estimate_tokens(question) + 64
        # The restatement is asked on its own, without the conversation (completions: as the prompt).
        extra: dict[str, Any] = {}
        msgs: list[dict[str, Any]] | None = [{"role": "user", "content": restate_prompt}]
        if ctx.route == "completions":
            extra, msgs = {"prompt": restate_prompt}, None
        restate_body = {**sampling.overrides(ctx.request, ctx.route, cfg.temperature, q_cap), **extra}
        first = await ctx.reask(restate_body, msgs, 1)
        paraphrase = sampling.clean_paraphrase(first.texts[0] if first.texts else "")
        if not paraphrase:
            return [], dict(first.usage), ""
        extra, msgs = sampling.with_question(ctx.request, ctx.route, paraphrase)
        second = await ctx.reask({**body, **extra}, msgs, plan["n"])
        return list(second.texts), _add_usage(first, second), paraphrase

    def _verdict(self, sentences: list[Sentence], scores: list[SentenceScore], n: int, meta: dict[str, Any]) -> Verdict:
        cfg = self.config
        response = sum(s.score for s in scores) / len(scores)
        meta["response_score"] = round(response, 4)
        # Every scored sentence's span and score, for the audit record (and the quality benchmark).
        meta["sentences"] = [
            [s.span[0], s.span[1], round(sc.score, 4)] for s, sc in zip(sentences, scores, strict=True)
        ]
        findings: list[Finding] = []
        for sent, sc in zip(sentences, scores, strict=True):
            if sc.score < cfg.sentence_threshold:
                continue
            findings.append(
                Finding(
                    validator=NAME,
                    code="consistency.divergent_sentence",
                    message=f"{n} other answer(s) to the same question do not support this sentence (score {sc.score:.2f})",
                    severity="high" if sc.score >= (1 + cfg.sentence_threshold) / 2 else "medium",
                    risk=min(1.0, sc.score),
                    span=sent.span,
                    evidence={
                        "closest_sample_sentence": sc.closest,
                        "sample": sc.closest_sample,
                        "similarity": round(sc.similarity, 3),
                        "semantic": round(sc.semantic, 3),
                        "lexical": round(sc.lexical, 3),
                        "unsupported_terms": sc.unsupported_terms[:12],
                    },
                )
            )
        risk = max([response] + [f.risk for f in findings])
        if findings or response >= cfg.response_threshold:
            if not findings:
                findings.append(
                    Finding(
                        validator=NAME,
                        code="consistency.divergent_response",
                        message=f"the answer as a whole diverges from {n} other answer(s) (score {response:.2f})",
                        severity="medium",
                        risk=response,
                    )
                )
            return Verdict.failed(findings, risk=risk, **meta)
        return Verdict.passed(risk=risk, **meta)


def _total(usage: dict[str, int]) -> int:
    if usage.get("total_tokens"):
        return int(usage["total_tokens"])
    return int(usage.get("prompt_tokens", 0)) + int(usage.get("completion_tokens", 0))


def _add_usage(a: ReaskResult, b: ReaskResult) -> dict[str, int]:
    keys = set(a.usage) | set(b.usage)
    return {k: int(a.usage.get(k, 0)) + int(b.usage.get(k, 0)) for k in keys}
