"""Settings of the `uncertainty` validator (what a policy's `with:` block may hold)."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field, field_validator

from llmvet.validators.base import ValidatorConfig
from llmvet.validators.uncertainty.cues import SECTIONS, load
from llmvet.validators.uncertainty.request import DEFAULT_INSTRUCTION


class UncertaintyConfig(ValidatorConfig):
    require_statement: bool = Field(True, description="Fail when no explicit uncertainty statement is found.")
    filler_counts: bool = Field(
        False, description="Count generic disclaimers ('as an AI I can make mistakes') as a statement."
    )
    code_comments: bool = Field(True, description="Statements inside code comments count (code-only answers).")
    exempt_code_only: bool = Field(False, description="Answers that are only code need no statement.")
    exempt_refusals: bool = Field(True, description="Full refusals need no statement (they are reported as refusals).")
    min_words: int = Field(0, ge=0, description="Answers with fewer prose words than this need no statement.")
    hedge_threshold: float = Field(4.0, gt=0, description="Weighted hedge cues per 100 words that count as heavy.")
    hedge_min_count: float = Field(3.0, ge=0, description="Heavy hedging also needs at least this many cues.")
    hedge_light_min: float = Field(
        0.5,
        ge=0,
        description="Weighted hedge cues that make hedging light (0.5: any cue, a weasel phrase such as 'some "
        "experts say' weighs 0.5; 1.0: a real hedge or two weasel phrases).",
    )
    hedge_frequency_weight: float = Field(
        0.0,
        ge=0,
        description="Weight of frequency adverbs and approximators ('usually', 'roughly', 'tends to'). 0 (default): "
        "they say how often or how much and do not weaken a claim, so they are not hedges; 0.5 counts them as weak "
        "hedges (the behaviour before issue 15).",
    )
    fail_on_hedging: bool = Field(False, description="Fail when hedging is heavy.")
    fail_on_refusal: Literal["never", "full", "any"] = Field(
        "never", description="Fail on full refusals only, on any refusal (incl. partial), or never."
    )
    refusal_categories: list[str] | None = Field(
        None, description="Only these refusal categories fail (safety, capability, policy, deflection, unspecified)."
    )
    partial_min_words: int = Field(30, ge=1, description="Words beyond the refusal that make it partial, not full.")
    add_instruction: bool = Field(False, description="Ask the model for one explicit uncertainty statement.")
    instruction: str = Field(DEFAULT_INSTRUCTION, min_length=1)
    embeddings: Literal["auto"] | bool = Field(
        "auto",
        description="When the rules find no statement, compare the answer's first-person sentences with labelled "
        "prototypes using the shared embedding model. 'auto' (default): on when sentence-transformers and the "
        "model load, otherwise rules only (reported by problems() / `llmvet policy check`); true: always try; "
        "false: rules only.",
    )
    embedding_model: str | None = Field(None, description="Model name or directory (default: the shared model).")
    embedding_quantize: bool = Field(
        True,
        description="Use the int8-quantised shared model (about 3x faster on CPU; the same instance the consistency "
        "validator uses by default).",
    )
    embedding_min_similarity: float = Field(0.45, ge=0, le=1)
    embedding_min_fraction: float = Field(
        0.66, ge=0, le=1, description="Share of the 3 nearest prototypes that must be statements."
    )
    prototype_file: str | None = Field(
        None, description="JSONL of {text, statement: 0|1} replacing the shipped prototypes."
    )
    extra_prototypes: list[str] = Field(
        default_factory=list, description="More example statements for the embedding pass."
    )
    statement_head: str | None = Field(
        None,
        description="JSON classifier from benchmarks/uncertainty_train.py replacing the shipped one (it must be "
        "trained on the embedding model in use; otherwise the prototypes decide).",
    )
    embedding_threshold: float | None = Field(
        None, gt=0, lt=1, description="Classifier probability that counts as a statement (default: the head's own)."
    )
    language: str = Field("en", pattern=r"^[a-z]{2,3}(?:[-_][A-Za-z]{2,4})?$")
    extra_cue_files: list[str] = Field(
        default_factory=list, description="YAML files laid out like data/uncertainty/en.yaml (entries are appended)."
    )
    extra_cues: dict[str, Any] = Field(
        default_factory=dict, description="Extra entries per section, e.g. {hedge: [...], statement_strong: [...]}."
    )

    @field_validator("fail_on_refusal", mode="before")
    @classmethod
    def _bool_refusal(cls, v: Any) -> Any:
        if v is True:
            return "any"
        if v is False or v is None:
            return "never"
        return v

    @field_validator("extra_cues")
    @classmethod
    def _known_sections(cls, v: dict[str, Any]) -> dict[str, Any]:
        for key, value in v.items():
            if key not in SECTIONS:
                raise ValueError(f"unknown cue section {key!r}; known: {', '.join(SECTIONS)}")
            if key in ("macros", "refusal_categories"):
                if not isinstance(value, dict):
                    raise ValueError(f"extra_cues.{key} must be a mapping")
            elif not isinstance(value, list) or not all(isinstance(x, str) for x in value):
                raise ValueError(f"extra_cues.{key} must be a list of strings")
        # Compile now so a bad regex is reported against the policy, not at the first answer.
        load("en", (), json.dumps(v, sort_keys=True)) if v else None
        return v
