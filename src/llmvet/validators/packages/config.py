"""The `packages` validator's settings (a policy's `packages:` entry)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from llmvet.store import keys
from llmvet.validators.base import ValidatorConfig
from llmvet.validators.packages.codes import CODES, DEFAULT_FAIL_ON


def _both_ecosystems() -> list[Literal["pypi", "npm"]]:
    return ["pypi", "npm"]


# no class docstring: pydantic would put it into the policy JSON Schema
class PackagesConfig(ValidatorConfig):
    ecosystems: list[Literal["pypi", "npm"]] = Field(default_factory=_both_ecosystems)
    pypi_index_url: str | None = Field(None, description="Simple API base; default: the index pip is configured with")
    pypi_json_url: str | None = Field(None, description="PyPI JSON API base; default: derived when the index is PyPI")
    npm_registry_url: str | None = Field(None, description="default: NPM_CONFIG_REGISTRY, ~/.npmrc registry=, else npm")
    private_index_url: str | None = Field(None, description="Simple API of the private index for private_prefixes")
    private_prefixes: list[str] = Field(default_factory=list, description="e.g. ['acme-', '@acme/']")
    allowlist: list[str] = Field(default_factory=list, description="globs of names never flagged")
    denylist: list[str] = Field(default_factory=list, description="globs of names always flagged")
    min_age_days: float = Field(90, ge=0, description="younger packages are reported as package.recent")
    fail_on: list[str] = Field(default_factory=lambda: list(DEFAULT_FAIL_ON))
    registry_unreachable: Literal["open", "closed"] = "open"
    positive_ttl: float = Field(86400, gt=0, description="seconds a found package stays cached")
    negative_ttl: float = Field(
        600, gt=0, description="seconds a missing name stays cached (short: squatters register)"
    )
    stale_ttl: float = Field(
        7 * 86400, ge=0, description="expired entries still answer this long when the registry is down"
    )
    concurrency: int = Field(16, ge=1, le=256)
    lookup_timeout: float = Field(5.0, gt=0)
    check_imports: bool = True
    conda: Literal["not_checked", "ignore"] = "not_checked"
    lookalike_distance: int = Field(2, ge=0, le=2)
    max_references: int = Field(200, ge=1, description="names checked per answer (the rest are reported unverified)")
    popular_pypi_file: str | None = None
    popular_npm_file: str | None = None
    cache_namespace: str = keys.PACKAGE_CACHE

    def popular_file(self, ecosystem: str) -> str | None:
        """The popular-names file of `ecosystem` (None: the shipped list)."""
        return self.popular_pypi_file if ecosystem == "pypi" else self.popular_npm_file

    @field_validator("fail_on")
    @classmethod
    def _codes(cls, v: list[str]) -> list[str]:
        out: list[str] = []
        for c in v:
            code = c if c.startswith("package.") else f"package.{c}"
            if code not in CODES:
                raise ValueError(f"unknown signal {c!r}; known: {', '.join(x.removeprefix('package.') for x in CODES)}")
            out.append(code)
        return out
