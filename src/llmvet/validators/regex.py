"""`regex`: the answer must (not) match given patterns. Simple, fast, and the default policy's check."""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import Field, field_validator

from llmvet.validators.base import Context, Finding, Severity, Validator, ValidatorConfig, Verdict

_INLINE_LIMIT = 64 * 1024  # characters; larger answers are scanned in the thread pool


class RegexConfig(ValidatorConfig):
    must_match: list[str] = Field(default_factory=list, description="each pattern must occur in the answer")
    must_not_match: list[str] = Field(default_factory=list, description="no pattern may occur in the answer")
    ignore_case: bool = False
    max_findings: int = Field(20, ge=1, le=1000, description="findings per pattern at most (the rest are counted)")
    severity: Severity = Field("medium", description="severity of each finding")

    @field_validator("must_match", "must_not_match")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for p in patterns:
            try:
                re.compile(p)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {p!r}: {exc}") from None
        return patterns


class RegexValidator(Validator[RegexConfig]):
    name: ClassVar[str] = "regex"
    Config: ClassVar[type[RegexConfig]] = RegexConfig

    def __init__(self, config: RegexConfig) -> None:
        super().__init__(config)
        flags = re.IGNORECASE if config.ignore_case else 0
        self._must = [(p, re.compile(p, flags)) for p in config.must_match]
        self._must_not = [(p, re.compile(p, flags)) for p in config.must_not_match]
        self._severity = config.severity

    async def check(self, ctx: Context) -> Verdict:
        if len(ctx.text) > _INLINE_LIMIT and ctx.resources is not None:
            findings = await ctx.resources.run_cpu(self._scan, ctx.text)  # big answers: off the event loop
        else:
            findings = self._scan(ctx.text)
        return Verdict.failed(findings) if findings else Verdict.passed()

    def _scan(self, text: str) -> list[Finding]:
        findings: list[Finding] = []
        limit = self.config.max_findings
        for source, pattern in self._must_not:
            matches = pattern.finditer(text)
            for n, m in enumerate(matches):
                if n == limit:
                    more = 1 + sum(1 for _ in matches)
                    findings[-1].evidence["more_matches"] = more  # counted, not listed
                    break
                findings.append(
                    Finding(
                        "regex",
                        "regex.must_not_match",
                        f"matches forbidden pattern {source!r}",
                        self._severity,
                        0.8,
                        (m.start(), m.end()),
                        {"pattern": source, "match": m.group(0)[:200]},
                    )
                )
        for source, pattern in self._must:
            if pattern.search(text) is None:
                findings.append(
                    Finding(
                        "regex",
                        "regex.must_match",
                        f"does not match required pattern {source!r}",
                        self._severity,
                        0.6,
                        None,
                        {"pattern": source},
                    )
                )
        return findings
