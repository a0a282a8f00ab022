"""Settings of the `consistency` validator (what a policy's `with:` block may hold)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from llmvet.embeddings import DEFAULT_MODEL
from llmvet.validators.base import ValidatorConfig

DEFAULT_PARAPHRASE_TEMPLATE = (
    "Restate the following question in different words, keeping exactly the same meaning. "
    "Reply with the restated question only.\n\nQuestion: {question}"
)


DEFAULT_JUDGE_TEMPLATE = (
    "Context: {sample}\n\n"
    "For each numbered sentence below, is it supported by the context above? Reply with JSON only, in the form "
    '{{"verdicts": ["yes", "no", ...]}}: one "yes" or "no" per sentence, in order ({count} in all).\n\n'
    "{sentences}"
)


class ConsistencyConfig(ValidatorConfig):
    # What to compare the answer with.
    mode: Literal["samples", "paraphrase", "both"] = Field(
        "samples",
        description="samples: re-ask the question; paraphrase: ask restated questions; both: the two in one check",
    )
    samples: int = Field(
        3, ge=0, le=20, description="extra answers to the question itself (N; paraphrase mode with paraphrases: 1 too)"
    )
    paraphrases: int = Field(
        1,
        ge=1,
        le=10,
        description="restated questions to ask (k); with more than one, or in mode both, each gets one answer (SAC3)",
    )
    min_samples: int = Field(
        2, ge=1, le=20, description="fewest extra answers worth scoring (when the token cap lowers N)"
    )
    temperature: float | None = Field(
        1.0, ge=0, le=2, description="sampling temperature of the re-asks; null keeps the request's own"
    )
    paraphrase_template: str = DEFAULT_PARAPHRASE_TEMPLATE

    # Scoring.
    embedding_model: str = Field(
        DEFAULT_MODEL,
        description="sentence-transformers hub name or local directory ($LLMVET_EMBEDDING_MODEL replaces the default)",
    )
    embedding_quantize: bool = Field(
        True, description="int8-quantise the model for CPU (about 3x faster; same benchmark figures within noise)"
    )
    semantic_weight: float = Field(
        0.0,
        ge=0,
        le=1,
        description=(
            "weight of the embedding signal (0: word overlap only, no model); it did not pay for its cost "
            "out of sample (see README); with 0.5 use sentence_threshold 0.6 and response_threshold 0.5"
        ),
    )
    sentence_threshold: float = Field(0.7, ge=0, le=1, description="a sentence scoring at least this is divergent")
    response_threshold: float = Field(
        0.6, ge=0, le=1, description="a mean sentence score at least this fails the answer"
    )
    contradiction_threshold: float = Field(
        0.5,
        gt=0,
        le=1,
        description="a share of the other answers contradicting a short answer's key fact at least this fails it",
    )
    key_fact_sentences: int = Field(
        3,
        ge=0,
        description="an answer of at most this many sentences to a factual question is judged by its key fact (0: never)",
    )
    max_sentences: int = Field(40, ge=1, description="score at most this many sentences of the answer")
    min_sentence_words: int = Field(
        3, ge=1, description="shorter sentences ('Sure!') are not scored, unless the answer has no longer one"
    )

    # LLM judge (SelfCheckGPT "prompt"): one call per other answer instead of word overlap and key facts.
    judge: bool = Field(False, description="ask a judge model whether each sentence is supported by each other answer")
    judge_model: str | None = Field(None, description="the judge model (a cheaper one); null: the request's model")
    judge_template: str = Field(
        DEFAULT_JUDGE_TEMPLATE, description="the judge's prompt: {sample}, {sentences} (numbered), {count}"
    )

    # Trigger conditions (sample_rate is the engine's).
    models: list[str] = Field(default_factory=lambda: ["*"], description="model name globs this check runs for")
    questions: Literal["factual", "any"] = Field(
        "factual",
        description="factual: run when the question asks for a fact or the answer states one; any: always",
    )
    min_answer_chars: int = Field(0, ge=0, description="skip shorter answers (skips one-word and yes/no answers)")
    min_factual_sentences: int = Field(
        0, ge=0, description="run only when the answer has this many sentences with names, numbers or dates"
    )

    # When to re-ask on a stream released as it arrives: beside the stream (the answer's length is not
    # known yet, so each re-ask gets the full max_sample_tokens cap) or once it has ended.
    reask_at: Literal["request", "answer"] = Field(
        "request",
        description="incremental streams: re-ask when a factual question arrives (beside the stream) or after the answer",
    )

    # Cost caps.
    max_extra_tokens: int = Field(8000, ge=1, description="estimated tokens all re-asks of one answer may spend")
    max_sample_tokens: int = Field(1024, ge=16, description="completion cap of each re-ask")
    daily_token_budget: int | None = Field(
        500_000, ge=1, description="tokens re-asks may spend per API key per UTC day (null = no limit)"
    )

    @field_validator("paraphrase_template")
    @classmethod
    def _has_question(cls, v: str) -> str:
        if "{question}" not in v:
            raise ValueError("paraphrase_template must contain {question}")
        try:
            v.format(question="x")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"paraphrase_template is not a valid format string ({exc}); write literal braces as {{{{ }}}}"
            ) from exc
        return v

    @field_validator("judge_template")
    @classmethod
    def _judge_placeholders(cls, v: str) -> str:
        if "{sample}" not in v or "{sentences}" not in v:
            raise ValueError("judge_template must contain {sample} and {sentences}")
        try:
            v.format(sample="x", sentences="x", count=1)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"judge_template is not a valid format string ({exc}); write literal braces as {{{{ }}}}"
            ) from exc
        return v

    @model_validator(mode="after")
    def _asks_something(self) -> ConsistencyConfig:
        if self.mode == "samples" and self.samples < 1:
            raise ValueError("mode samples needs samples >= 1")
        if self.mode == "paraphrase" and self.paraphrases == 1 and self.samples < 1:
            raise ValueError("mode paraphrase with one restatement needs samples >= 1 (answers to it)")
        return self

    @field_validator("models")
    @classmethod
    def _nonempty(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("models must list at least one glob (use ['*'] for all)")
        return v
