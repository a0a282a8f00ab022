"""`uncertainty`: every answer states what it is unsure of; hedging and refusals are measured.

Findings (each with a span and a score):
- `uncertainty.statement` (present) / `uncertainty.statement_missing`
- `uncertainty.hedging` (density of hedge cues outside explicit statements)
- `uncertainty.refusal` (full / partial refusal or deflection, with a category)
The verdict fails on a missing statement (require_statement), heavy hedging (fail_on_hedging) or a
refusal (fail_on_refusal). Verdict.meta carries a summary and the response headers for `annotate`
(`x-llmvet-uncertainty`, `x-llmvet-hedging`, `x-llmvet-refusal`); the `append` notice and the `reask`
feedback are the rule's settings, and the missing-statement finding's message says what to add.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from llmvet.validators.base import PROSE, Context, Finding, PartKind, StreamMode, Validator, Verdict
from llmvet.validators.uncertainty.config import UncertaintyConfig
from llmvet.validators.uncertainty.cues import CueError, CueSet, load
from llmvet.validators.uncertainty.detect import Analysis, Options, analyse
from llmvet.validators.uncertainty.embed import IndexSpec, KnnSettings, find_statements, load_index, prototypes_path
from llmvet.validators.uncertainty.refusals import warm_asides
from llmvet.validators.uncertainty.request import add_instruction

# Longer answers are analysed in the CPU pool (about 1 ms per KB of rule work); shorter ones inline, since a
# thread hop costs more than the work.
_INLINE_LIMIT = 4_000


class UncertaintyValidator(Validator[UncertaintyConfig]):
    name: ClassVar[str] = "uncertainty"
    reads: ClassVar[frozenset[PartKind]] = PROSE  # the statement is the answer's own prose
    Config: ClassVar[type[UncertaintyConfig]] = UncertaintyConfig

    def stream_mode(self) -> StreamMode:
        return "whole"  # judged on the whole answer; text flows meanwhile

    def __init__(self, config: UncertaintyConfig) -> None:
        super().__init__(config)
        self._problems: list[str] = []
        # Why the embedding pass is off although configured (auto or true): set when the package is missing or
        # the model failed to load, so answers don't retry a failed load (rules-only, fail open).
        self._embedding_off: str | None = None
        if self.config.embeddings:
            self._embedding_off = self._embedding_static_problem()
        self.cues: CueSet = self._load_cues()
        warm_asides(self.cues)
        self.options = Options(
            filler_counts=self.config.filler_counts,
            code_comments=self.config.code_comments,
            hedge_threshold=self.config.hedge_threshold,
            hedge_min_count=self.config.hedge_min_count,
            hedge_light_min=self.config.hedge_light_min,
            hedge_frequency_weight=self.config.hedge_frequency_weight,
            partial_min_words=self.config.partial_min_words,
            collect_candidates=bool(self.config.embeddings),
        )
        self.knn = KnnSettings(
            min_fraction=self.config.embedding_min_fraction, min_similarity=self.config.embedding_min_similarity
        )
        self.index_spec = IndexSpec(
            model=self.config.embedding_model,
            language=self.config.language,
            extra_positive=tuple(self.config.extra_prototypes),
            prototype_file=self.config.prototype_file,
            quantize=self.config.embedding_quantize,
            head_file=self.config.statement_head,
        )

    def _load_cues(self) -> CueSet:
        extra_json = json.dumps(self.config.extra_cues, sort_keys=True) if self.config.extra_cues else ""
        files = tuple(str(Path(f).expanduser()) for f in self.config.extra_cue_files)
        try:
            return load(self.config.language, files, extra_json)
        except CueError as exc:
            # Keep working with the shipped lists; `llmvet policy check` reports the problem.
            self._problems.append(str(exc))
            return load("en")

    def _embedding_static_problem(self) -> str | None:
        """What stops the embedding pass before trying to load the model (package, model dir, prototype file)."""
        from llmvet.embeddings import embedding_problems

        found = embedding_problems(self.config.embedding_model)
        file = self.config.prototype_file
        path = Path(file).expanduser() if file else prototypes_path(self.config.language)
        if not path.exists():
            found.append(f"prototype file {path} does not exist")
        if self.config.statement_head and not Path(self.config.statement_head).expanduser().exists():
            found.append(f"statement head file {self.config.statement_head} does not exist")
        return "; ".join(found) or None

    @property
    def cfg(self) -> UncertaintyConfig:
        """The settings (older name for `config`, kept for callers that read it)."""
        return self.config

    @property
    def embedding_active(self) -> bool:
        return bool(self.config.embeddings) and self._embedding_off is None

    def problems(self) -> list[str]:
        out = list(self._problems)
        if self.config.embeddings and self._embedding_off:
            mode = "auto" if self.config.embeddings == "auto" else "true"
            out.append(
                f"embedding pass off (embeddings: {mode}): {self._embedding_off}; explicit statements are found by "
                "the rules only (lower recall on unusual phrasings)"
            )
        return out

    async def warm_up(self, resources: Any) -> None:
        """Load the shared model and the prototypes at start-up; on failure, fall back to rules only."""
        if self.embedding_active:
            await self._load_embedding_index(resources)

    async def _load_embedding_index(self, resources: Any) -> bool:
        from llmvet.embeddings import EmbeddingsUnavailable

        try:
            await load_index(resources, self.index_spec)
        except (EmbeddingsUnavailable, OSError, ValueError) as exc:
            self._embedding_off = f"cannot load the embedding model or prototypes: {exc}"
            return False
        return True

    def prepare_request(self, body: dict[str, Any], route: str) -> dict[str, Any]:
        if not self.config.add_instruction:
            return body
        return add_instruction(body, route, self.config.instruction)

    def analyse(self, text: str, prompt: str = "") -> Analysis:
        return analyse(text, self.cues, self.options, prompt)

    async def check(self, ctx: Context) -> Verdict:
        prompt = ctx.prompt
        if ctx.resources is not None and len(ctx.text) > _INLINE_LIMIT:
            result = await ctx.resources.run_cpu(self.analyse, ctx.text, prompt)
        else:
            result = self.analyse(ctx.text, prompt)  # well under a millisecond: cheaper than a thread hop
        extra: dict[str, Any] = {}
        if (
            self.embedding_active
            and result.best_statement is None
            and result.candidates
            and not self._exemption(result)
        ):
            extra = await self._embedding_pass(ctx, result)
        elif self.config.embeddings and self._embedding_off and result.best_statement is None:
            extra = {"embedding": f"off: {self._embedding_off}"}
        verdict = self.verdict(result)
        verdict.meta.update(extra)
        return verdict

    async def _embedding_pass(self, ctx: Context, result: Analysis) -> dict[str, Any]:
        """Second look at first-person sentences the cue lists could not classify."""
        if ctx.resources is None:
            return {"embedding": "skipped: no shared resources"}
        from llmvet.embeddings import EmbeddingsUnavailable

        try:
            hits, method = await find_statements(
                result.candidates, ctx.resources, self.index_spec, self.knn, self.config.embedding_threshold
            )
        except (EmbeddingsUnavailable, OSError, ValueError) as exc:
            # The rule verdict still stands; say why the second look did not happen, and don't retry the
            # load for every answer (a policy reload builds a new validator and tries again).
            self._embedding_off = f"cannot load the embedding model or prototypes: {exc}"
            return {"embedding": f"unavailable: {exc}"}
        result.statements.extend(hits)
        return {"embedding": {"candidates": len(result.candidates), "statements": len(hits), "method": method}}

    def verdict(self, a: Analysis) -> Verdict:
        findings: list[Finding] = []
        failed: list[Finding] = []
        for finding, fails in (self._statement_finding(a), self._hedging_finding(a), self._refusal_finding(a)):
            if finding is not None:
                findings.append(finding)
                if fails:
                    failed.append(finding)
        meta = self._meta(a)
        if failed:
            return Verdict.failed(findings, risk=max(f.risk for f in failed) or 0.5, **meta)
        return Verdict.passed(findings, risk=0.0, **meta)

    def _statement_finding(self, a: Analysis) -> tuple[Finding, bool]:
        best = a.best_statement
        if best is not None:
            present = Finding(
                self.name,
                "uncertainty.statement",
                f"explicit uncertainty statement: {best.text!r}",
                severity="info",
                risk=0.0,
                span=(best.start, best.end),
                evidence={
                    "score": best.score,
                    "kind": best.kind,
                    "where": best.where,
                    "statements": [_hit(h) for h in a.statements if h.score >= 0.5][:10],
                },
            )
            return present, False
        exempt = self._exemption(a)
        missing = Finding(
            self.name,
            "uncertainty.statement_missing",
            (
                f"no explicit statement of uncertainty (exempt: {exempt})"
                if exempt
                else "no explicit statement of uncertainty: add one sentence saying what you are not sure "
                "of, or how confident you are (e.g. 'Confidence: medium - I could not verify X')"
            ),
            severity="info" if exempt else "medium",
            risk=0.0 if exempt else 0.6,
            span=None,
            evidence={
                "score": round(1.0 - a.statement_score, 4),
                "exempt": exempt,
                "filler": [_hit(h) for h in a.statements if h.kind == "filler"][:5],
            },
        )
        return missing, self.config.require_statement and not exempt

    def _hedging_finding(self, a: Analysis) -> tuple[Finding | None, bool]:
        if not a.hedges:
            return None, False
        cfg = self.config
        heavy = a.hedge_level == "heavy"
        first, last = a.hedges[0], a.hedges[-1]
        hedging = Finding(
            self.name,
            "uncertainty.hedging",
            f"{a.hedge_level} hedging: {a.hedge_density:.1f} hedge cues per 100 words ({len(a.hedges)} cues)",
            severity="medium" if heavy else "info",
            risk=min(1.0, a.hedge_density / (2 * cfg.hedge_threshold)),
            span=(first.start, last.end),
            evidence={
                "score": round(a.hedge_density, 3),
                "level": a.hedge_level,
                "weighted_count": a.hedge_weight,
                "words": a.prose_words,
                "threshold": cfg.hedge_threshold,
                "cues": [_hit(h) for h in a.hedges][:30],
            },
        )
        return hedging, heavy and cfg.fail_on_hedging

    def _refusal_finding(self, a: Analysis) -> tuple[Finding | None, bool]:
        if a.refusal_level == "none":
            return None, False
        lead = a.refusals[0]
        refusal = Finding(
            self.name,
            "uncertainty.refusal",
            f"{a.refusal_level} refusal ({a.refusal_category}): {lead.text!r}",
            severity="medium" if a.refusal_level == "full" else "low",
            risk=a.refusal_score,
            span=(lead.start, lead.end),
            evidence={
                "score": a.refusal_score,
                "level": a.refusal_level,
                "category": a.refusal_category,
                "categories": a.refusal_categories,
                "substantive_words": a.substantive_words,
                "cues": [_hit(h) for h in a.refusals][:10],
            },
        )
        return refusal, self._refusal_fails(a)

    def _exemption(self, a: Analysis) -> str | None:
        cfg = self.config
        if cfg.exempt_refusals and a.refusal_level == "full":
            return "full refusal"
        if cfg.exempt_code_only and a.code_only:
            return "code-only answer"
        if cfg.min_words and a.prose_words < cfg.min_words and not a.code_only:
            return f"shorter than {cfg.min_words} words"
        return None

    def _refusal_fails(self, a: Analysis) -> bool:
        mode = self.config.fail_on_refusal
        if mode == "never" or (mode == "full" and a.refusal_level != "full"):
            return False
        cats = self.config.refusal_categories
        return cats is None or a.refusal_category in cats

    def _meta(self, a: Analysis) -> dict[str, Any]:
        present = a.best_statement is not None
        exempt = None if present else self._exemption(a)
        status = "present" if present else ("exempt" if exempt else "missing")
        headers = {"x-llmvet-uncertainty": status, "x-llmvet-hedging": f"{a.hedge_level};density={a.hedge_density:.1f}"}
        if a.refusal_level != "none":
            headers["x-llmvet-refusal"] = f"{a.refusal_level};category={a.refusal_category}"
        meta: dict[str, Any] = {
            "uncertainty": {
                "statement": status,
                "hedging": {"level": a.hedge_level, "density": round(a.hedge_density, 3), "count": len(a.hedges)},
                "refusal": {"level": a.refusal_level, "category": a.refusal_category},
            },
            "refusal_category": a.refusal_category,
            "headers": headers,
        }
        return meta


def _hit(h: Any) -> dict[str, Any]:
    return {"text": h.text, "span": [h.start, h.end], "kind": h.kind, "score": h.score, "where": h.where}
