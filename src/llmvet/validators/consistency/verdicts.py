"""Scores -> a verdict: divergent sentences, a divergent answer, or a contradicted key fact."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llmvet.validators.base import Finding, Sentence, Verdict
from llmvet.validators.consistency.config import ConsistencyConfig
from llmvet.validators.consistency.facts import Contradictions
from llmvet.validators.consistency.scoring import SentenceScore

NAME = "consistency"


def build(
    cfg: ConsistencyConfig,
    sentences: Sequence[Sentence],
    scores: Sequence[SentenceScore],
    contra: Contradictions | None,
    samples: Sequence[str],
    meta: dict[str, Any],
) -> Verdict:
    """Short answers (`contra` given) are decided by their key fact alone: on a sentence or two, word and
    embedding overlap measure phrasing ("Canberra." against "The capital of Australia is Canberra.") more
    than content, and flagged over half of the right answers of the short-answer set. Their scores stay in
    the audit record."""
    n = len(samples)
    response = sum(s.score for s in scores) / len(scores)
    meta["response_score"] = round(response, 4)
    # Every scored sentence's span and score, for the audit record (and the quality benchmark).
    meta["sentences"] = [[s.span[0], s.span[1], round(sc.score, 4)] for s, sc in zip(sentences, scores, strict=True)]
    if contra is not None:
        return _by_key_fact(cfg, sentences, contra, samples, meta)
    findings = [
        _divergent(cfg, sent, sc, n)
        for sent, sc in zip(sentences, scores, strict=True)
        if sc.score >= cfg.sentence_threshold
    ]
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


def by_judge(
    cfg: ConsistencyConfig, sentences: Sequence[Sentence], shares: Sequence[float], n: int, meta: dict[str, Any]
) -> Verdict:
    """Judge mode: a sentence that at least `contradiction_threshold` of the other answers do not support
    (by the judge's reading) is flagged; any flagged sentence fails the answer."""
    meta["response_score"] = round(sum(shares) / len(shares), 4) if shares else 0.0
    meta["sentences"] = [[s.span[0], s.span[1], round(v, 4)] for s, v in zip(sentences, shares, strict=True)]
    findings = [
        Finding(
            validator=NAME,
            code="consistency.unsupported_sentence",
            message=f"the judge found {round(v * n)} of {n} other answer(s) do not support this sentence",
            severity="high" if v >= (1 + cfg.contradiction_threshold) / 2 else "medium",
            risk=v,
            span=s.span,
            evidence={"share": round(v, 3), "judge_model": meta.get("judge", {}).get("model")},
        )
        for s, v in zip(sentences, shares, strict=True)
        if v >= cfg.contradiction_threshold
    ]
    risk = max(shares, default=0.0)
    return Verdict.failed(findings, risk=risk, **meta) if findings else Verdict.passed(risk=risk, **meta)


def _by_key_fact(
    cfg: ConsistencyConfig,
    sentences: Sequence[Sentence],
    contra: Contradictions,
    samples: Sequence[str],
    meta: dict[str, Any],
) -> Verdict:
    if contra.share >= cfg.contradiction_threshold:
        return Verdict.failed([_contradicted(sentences, contra, samples)], risk=contra.share, **meta)
    return Verdict.passed(risk=contra.share, **meta)


def _divergent(cfg: ConsistencyConfig, sent: Sentence, sc: SentenceScore, n: int) -> Finding:
    return Finding(
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


def _contradicted(sentences: Sequence[Sentence], contra: Contradictions, samples: Sequence[str]) -> Finding:
    against = [i for i, r in enumerate(contra.reasons) if r is not None]
    kinds = sorted({r for r in contra.reasons if r is not None})
    span = (sentences[0].span[0], sentences[-1].span[1]) if sentences else None
    return Finding(
        validator=NAME,
        code="consistency.contradicted_answer",
        message=(
            f"{len(against)} of {len(samples)} other answer(s) contradict this answer's key fact ({', '.join(kinds)})"
        ),
        severity="high",
        risk=contra.share,
        span=span,
        evidence={
            "share": round(contra.share, 3),
            "kinds": kinds,
            "contradicting_samples": against,
            "example": samples[against[0]][:300],
        },
    )
