"""The `consistency` validator: ask again (or ask a paraphrase) and flag sentences the answers do not share."""

from __future__ import annotations

import asyncio
import dataclasses
import fnmatch
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from llmvet import embeddings
from llmvet.validators.base import (
    PROSE,
    Context,
    PartKind,
    ReaskUnavailable,
    Sentence,
    StreamMode,
    Validator,
    Verdict,
)
from llmvet.validators.consistency import asking, budget, judge, verdicts
from llmvet.validators.consistency.config import ConsistencyConfig
from llmvet.validators.consistency.facts import contradiction_share, is_creative_request, is_factual_question
from llmvet.validators.consistency.scoring import Encoder, is_factual, merge_fragments, score_sentences, split_sentences

if TYPE_CHECKING:
    from llmvet.resources import Resources

NAME = verdicts.NAME


@dataclass(slots=True)
class _Samples:
    """What the re-asks returned."""

    texts: list[str]
    usage: dict[str, int]  # token usage the upstream reported (empty: unknown)
    paraphrases: list[str]  # the restated questions (paraphrase and both modes)
    calls: int  # upstream calls made
    reask_ms: float
    judged: judge.Judged | None = None  # judge mode: the judge's scores


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
        self._semantic = config.semantic_weight > 0 and not config.judge  # the judge mode needs no model
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
        notes = self.trigger_notes()
        if not self._semantic:
            return notes  # lexical-only scoring needs no model
        return [*embeddings.embedding_problems(self.config.embedding_model), *notes]

    # -- triggers -------------------------------------------------------------------------------

    def sentences_to_score(self, ctx: Context) -> list[Sentence]:
        """ctx.sentences (code blocks skipped), splits after initials undone, too-short ones dropped unless the
        answer has nothing longer ("Canberra." and "No." are whole answers)."""
        cfg = self.config
        merged = merge_fragments(ctx.text, ctx.sentences)
        return [s for s in merged if len(s.text.split()) >= cfg.min_sentence_words] or merged

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
        if cfg.questions == "factual" and not factual and not is_factual_question(ctx.prompt):
            return "neither a factual question nor an answer stating a name, number or date"
        return None

    def trigger_notes(self) -> list[str]:
        """What each non-default trigger skips, for `llmvet policy check`."""
        cfg = self.config
        notes = []
        if cfg.min_answer_chars > 0:
            notes.append(
                f"min_answer_chars={cfg.min_answer_chars} skips every answer shorter than that, "
                "including one-word, number and yes/no answers"
            )
        if cfg.min_factual_sentences > 0:
            notes.append(
                f"min_factual_sentences={cfg.min_factual_sentences} skips answers without digits or capitalised "
                "words, such as 'They were both film directors.' or 'No.'"
            )
        if cfg.questions == "any":
            notes.append("questions=any also re-asks creative requests (poems, rewrites), where answers should differ")
        return notes

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

        if ctx.early is not None:  # re-asked when the request arrived, beside the stream
            got = await ctx.early
            plan = asking.plan(cfg, ctx, len(sentences), early=True)
        else:
            plan = asking.plan(cfg, ctx, len(sentences))
            wanted = cfg.samples if cfg.mode == "samples" else 1
            if plan.n < min(cfg.min_samples, wanted) or plan.n == 0:
                return Verdict.errored(
                    f"answer too long for max_extra_tokens={cfg.max_extra_tokens} "
                    f"(one re-ask is estimated at {plan.per_sample} tokens)",
                    plan=plan.to_dict(),
                )
            got = await self._asked_within_budget(ctx, ctx.resources, plan)
        if isinstance(got, Verdict):
            return got
        judged = await self._judged(ctx, ctx.resources, sentences, got)
        if isinstance(judged, Verdict):
            return judged
        return await self._score(ctx, sentences, encoder, judged, plan, unscored)

    def stream_start(self, ctx: Context) -> Awaitable[_Samples | Verdict] | None:
        """Re-ask as the request arrives, so the samples are ready when the streamed answer ends. Not for
        creative requests (unless questions=any): if the answer then states no fact, the re-asks were spent
        for nothing, as the answer is not known yet."""
        cfg = self.config
        model = (ctx.model or "").lower()
        if cfg.reask_at != "request" or ctx.resources is None or ctx.reask_fn is None:
            return None
        if not any(fnmatch.fnmatchcase(model, g.lower()) for g in cfg.models):
            return None
        if cfg.questions == "factual" and is_creative_request(ctx.prompt):
            return None
        plan = asking.plan(cfg, ctx, cfg.max_sentences, early=True)
        if plan.n < min(cfg.min_samples, cfg.samples if cfg.mode == "samples" else 1) or plan.n == 0:
            return None
        return self._asked_within_budget(ctx, ctx.resources, plan)

    async def _asked_within_budget(self, ctx: Context, resources: Resources, plan: asking.Plan) -> _Samples | Verdict:
        """Re-ask the upstream, with the estimated tokens reserved against the daily budget and then settled
        to what the upstream reports it spent."""
        cfg = self.config
        key = budget.budget_key(ctx.key_hash)
        reserved = plan.estimate
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
            got = await asking.gather(cfg, ctx, plan)
            spent = _total(got.usage) or reserved
        except ReaskUnavailable as exc:
            return Verdict.errored(f"cannot re-ask: {exc}")
        except asyncio.CancelledError:  # timed out mid-call: the upstream may have spent it, keep the reservation
            spent = reserved
            raise
        finally:
            if cfg.daily_token_budget is not None:
                await budget.settle(resources.store, key, spent - reserved)
        return _Samples(got.texts, got.usage, got.paraphrases, got.calls, (time.perf_counter() - t0) * 1000)

    async def _judged(
        self, ctx: Context, resources: Resources, sentences: list[Sentence], got: _Samples
    ) -> _Samples | Verdict:
        """Judge mode: ask the judge about each sample; its cost is added to the budget as reported."""
        cfg = self.config
        if not cfg.judge:
            return got
        t0 = time.perf_counter()
        try:
            judged = await self._judge(ctx, sentences, got.texts)
        except judge.JudgeError as exc:  # the judge calls were made: their cost is in the record
            await self._spend(resources, ctx, _total(exc.usage))
            return Verdict.errored(
                f"the judge's reply is not usable: {exc}",
                extra_usage={**_merge(got.usage, exc.usage), "calls": got.calls + exc.calls},
                judge={"model": cfg.judge_model, "calls": exc.calls, "usage": exc.usage},
            )
        await self._spend(resources, ctx, _total(judged.usage))
        # a copy: with n > 1 every choice's check shares the samples begun at the request
        return dataclasses.replace(got, judged=judged, reask_ms=got.reask_ms + (time.perf_counter() - t0) * 1000)

    async def _spend(self, resources: Resources, ctx: Context, tokens: int) -> None:
        if self.config.daily_token_budget is not None and tokens:
            await budget.settle(resources.store, budget.budget_key(ctx.key_hash), tokens)

    async def _judge(self, ctx: Context, sentences: list[Sentence], texts: list[str]) -> judge.Judged:
        others = [t for t in texts if t.strip()]
        if not others:
            return judge.Judged([])
        return await judge.judge(self.config, ctx, [s.text for s in sentences], others)

    async def _score(
        self,
        ctx: Context,
        sentences: list[Sentence],
        encoder: Encoder | None,
        got: _Samples,
        plan: asking.Plan,
        unscored: int,
    ) -> Verdict:
        cfg = self.config
        meta: dict[str, Any] = {
            "mode": cfg.mode,
            "unscored_sentences": unscored,
            "samples": len(got.texts),
            "extra_usage": {**got.usage, "estimated": not _total(got.usage), "calls_n": plan.n, "calls": got.calls},
        }
        if cfg.mode != "samples":
            meta["paraphrase"] = got.paraphrases[0] if got.paraphrases else ""
            meta["paraphrases"] = got.paraphrases
        texts = [t for t in got.texts if t.strip()]
        sample_sentences = [[s.text for s in split_sentences(t)][: cfg.max_sentences * 2] or [t] for t in texts]
        if not sample_sentences:
            return Verdict.errored("the upstream returned no usable re-asked answers", **meta)

        if got.judged is not None:
            j = got.judged
            meta["extra_usage"] = {**_merge(got.usage, j.usage), "calls_n": plan.n, "calls": got.calls + j.calls}
            meta["extra_usage"]["estimated"] = not _total(meta["extra_usage"])
            meta["judge"] = {"model": cfg.judge_model or ctx.model, "calls": j.calls, "usage": j.usage}
            meta["timings_ms"] = {"reask_and_judge": round(got.reask_ms, 1)}
            return verdicts.by_judge(cfg, sentences, j.scores, len(texts), meta)

        t1 = time.perf_counter()
        scores = await ctx.resources.run_cpu(  # type: ignore[union-attr]  # checked by check()
            score_sentences, [s.text for s in sentences], sample_sentences, encoder, cfg.semantic_weight
        )
        contra = None
        if len(sentences) <= cfg.key_fact_sentences and is_factual_question(ctx.prompt):
            contra = contradiction_share(ctx.text, texts, ctx.prompt)
            meta["contradiction_share"] = round(contra.share, 4)
            if not contra.comparable and not contra.share:  # no yes/no, number or name: the words decide
                contra = None
        meta["timings_ms"] = {"reask": round(got.reask_ms, 1), "score": round((time.perf_counter() - t1) * 1000, 1)}
        return verdicts.build(cfg, sentences, scores, contra, texts, meta)


def _total(usage: dict[str, int]) -> int:
    if usage.get("total_tokens"):
        return int(usage["total_tokens"])
    return int(usage.get("prompt_tokens", 0)) + int(usage.get("completion_tokens", 0))


def _merge(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {k: int(a.get(k, 0)) + int(b.get(k, 0)) for k in set(a) | set(b)}
