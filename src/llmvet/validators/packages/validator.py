"""The `packages` validator: hallucinated, placeholder and slopsquatted packages in an answer."""

from __future__ import annotations

import fnmatch
import logging
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from llmvet.validators.base import Context, Finding, Severity, Validator, ValidatorConfig, Verdict
from llmvet.validators.packages.extract import Ref, extract
from llmvet.validators.packages.import_map import distribution_for, install_alias
from llmvet.validators.packages.registry import (
    Index,
    Lookup,
    RegistryClient,
    canonical,
    json_api_for,
    npm_registry_url,
    pip_index_url,
)
from llmvet.validators.packages.signals import (
    age_days,
    placeholder_reasons,
    popular_names,
    version_exists,
    weak_signals,
)

CODES = (
    "package.missing",
    "package.version_missing",
    "package.placeholder",
    "package.recent",
    "package.lookalike",
    "package.unknown_import",
    "package.not_checked",
    "package.denied",
    "package.private_unresolved",
    "package.unverified",
)
DEFAULT_FAIL_ON = [
    "package.missing",
    "package.version_missing",
    "package.placeholder",
    "package.lookalike",
    "package.denied",
    "package.private_unresolved",
]
_INLINE_LIMIT = 20_000  # longer answers are parsed in the thread pool


class PackagesConfig(ValidatorConfig):
    ecosystems: list[Literal["pypi", "npm"]] = Field(default_factory=lambda: ["pypi", "npm"])
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
    negative_ttl: float = Field(600, gt=0, description="seconds a missing name stays cached (short: squatters register)")
    stale_ttl: float = Field(7 * 86400, ge=0, description="expired entries still answer this long when the registry is down")
    concurrency: int = Field(16, ge=1, le=256)
    lookup_timeout: float = Field(5.0, gt=0)
    check_imports: bool = True
    conda: Literal["not_checked", "ignore"] = "not_checked"
    lookalike_distance: int = Field(2, ge=0, le=2)
    max_references: int = Field(200, ge=1, description="names checked per answer (the rest are reported unverified)")
    popular_pypi_file: str | None = None
    popular_npm_file: str | None = None
    cache_namespace: str = "pkgcache"

    @field_validator("fail_on")
    @classmethod
    def _codes(cls, v: list[str]) -> list[str]:
        out = []
        for c in v:
            code = c if c.startswith("package.") else f"package.{c}"
            if code not in CODES:
                raise ValueError(f"unknown signal {c!r}; known: {', '.join(x.removeprefix('package.') for x in CODES)}")
            out.append(code)
        return out


@dataclass(slots=True)
class _Job:
    """One (registry, name) to look up, and the refs that depend on it."""

    index: Index
    name: str
    refs: list[Ref] = field(default_factory=list)
    resolved_as: str | None = None  # an import found under python-X / pyX


log = logging.getLogger("llmvet.packages")
REVIEWER_ALLOWLIST_NS = "allowlist"


class PackagesValidator(Validator):
    name: ClassVar[str] = "packages"
    Config: ClassVar[type[ValidatorConfig]] = PackagesConfig

    def __init__(self, config: PackagesConfig) -> None:
        super().__init__(config)
        c = config
        self.cfg = c
        pypi = c.pypi_index_url or pip_index_url()
        json_url = c.pypi_json_url if c.pypi_json_url is not None else json_api_for(pypi)
        self.pypi = Index("pypi", pypi, json_url or None)
        self.npm = Index("npm", c.npm_registry_url or npm_registry_url())
        self.private = (
            Index("pypi", c.private_index_url, json_api_for(c.private_index_url)) if c.private_index_url else None
        )
        self.client = RegistryClient(
            positive_ttl=c.positive_ttl,
            negative_ttl=c.negative_ttl,
            stale_ttl=c.stale_ttl,
            concurrency=c.concurrency,
            timeout=c.lookup_timeout,
            namespace=c.cache_namespace,
        )
        # memoised name signals (lookalike search, placeholder wording): the warm path only reads dicts
        self._memo: dict[tuple, Any] = {}

    def problems(self) -> list[str]:
        out = []
        for eco, path in (("pypi", self.cfg.popular_pypi_file), ("npm", self.cfg.popular_npm_file)):
            try:
                popular_names(eco, path)
            except OSError as e:
                out.append(f"popular {eco} names file unreadable: {e}")
        if self.cfg.private_prefixes and not self.cfg.private_index_url:
            out.append("private_prefixes is set but private_index_url is not: every private name will be reported")
        return out

    # ------------------------------------------------------------ the check

    async def check(self, ctx: Context) -> Verdict:
        t0 = time.perf_counter()
        text = ctx.text
        if len(text) > _INLINE_LIMIT and ctx.resources is not None:
            ex = await ctx.resources.run_cpu(extract, text, ctx.code_blocks, imports=self.cfg.check_imports)
        else:
            ex = extract(text, ctx.code_blocks, imports=self.cfg.check_imports)
        findings: list[Finding] = []
        jobs: dict[tuple[str, str], _Job] = {}
        eco_on = set(self.cfg.ecosystems)
        reviewed = await self._reviewer_allowed(ctx, ex.refs)
        for ref in ex.refs:
            if ref.ecosystem == "conda":
                if self.cfg.conda == "not_checked":
                    findings.append(self._finding(ref, "package.not_checked", f"conda package {ref.name!r} was not checked",
                                                  "info", 0.05, {"ecosystem": "conda"}))
                continue
            if ref.ecosystem not in eco_on:
                continue
            norm = self._norm(ref)
            if self._glob(norm, ref.name, self.cfg.allowlist) or (ref.ecosystem, norm) in reviewed:
                continue
            if self._glob(norm, ref.name, self.cfg.denylist):
                findings.append(self._finding(ref, "package.denied", f"{ref.name!r} is on the policy's denylist",
                                              "high", 0.95, {"ecosystem": ref.ecosystem}))
                continue
            index, lookup_name = self._target(ref)
            if index is None:
                continue
            key = (index.id, self._jobkey(index, lookup_name))
            job = jobs.get(key)
            if job is None:
                if len(jobs) >= self.cfg.max_references:
                    findings.append(self._finding(ref, "package.unverified", f"{ref.name!r} not checked: too many names",
                                                  "low", 0.1, {"ecosystem": ref.ecosystem, "reason": "max_references"}))
                    continue
                job = jobs[key] = _Job(index, lookup_name)
            job.refs.append(ref)

        lookups: dict[tuple[str, str], Lookup] = {}
        if jobs:
            # Warm path: everything in memory, no awaiting.
            pending = []
            for (iid, _), job in jobs.items():
                hit = self.client.peek(job.index, job.name)
                if hit is None:
                    pending.append((job.index, job.name))
                else:
                    lookups[(iid, job.name)] = hit
            if pending:
                if ctx.resources is None:
                    raise RuntimeError("the packages validator needs ctx.resources (store and HTTP session)")
                lookups.update(await self.client.lookup_many(ctx.resources, pending))
            await self._resolve_import_aliases(ctx, jobs, lookups)
        now = time.time()
        if jobs and ctx.resources is not None:
            for eco in {j.index.ecosystem for j in jobs.values()}:
                path = self.cfg.popular_pypi_file if eco == "pypi" else self.cfg.popular_npm_file
                # built once per process, off the event loop
                await ctx.resources.singleton(("llmvet.packages.popular", eco, path), lambda e=eco, p=path: popular_names(e, p))
        unchecked = 0
        for (iid, _), job in jobs.items():
            lk = lookups.get((iid, job.name))
            for ref in job.refs:
                if lk is None or lk.status == "unreachable":
                    unchecked += 1
                    closed = self.cfg.registry_unreachable == "closed"
                    findings.append(self._finding(
                        ref, "package.unverified",
                        f"could not reach {job.index.label} to check {ref.name!r}",
                        "high" if closed else "low", 0.7 if closed else 0.1,
                        {"ecosystem": ref.ecosystem, "registry": job.index.label, "error": lk.error if lk else "",
                         "registry_unreachable": self.cfg.registry_unreachable},
                    ))
                    continue
                findings.extend(self._judge(ref, job, lk, now))
        fail_on = set(self.cfg.fail_on)
        if self.cfg.registry_unreachable == "closed":
            fail_on.add("package.unverified")
        meta = {
            "packages_checked": len(jobs),
            "references": len(ex.refs),
            "unchecked": unchecked,
            "ms": round((time.perf_counter() - t0) * 1000, 3),
        }
        failing = [f for f in findings if f.code in fail_on]
        if failing:
            return Verdict.failed(findings, risk=max(f.risk for f in failing), **meta)
        return Verdict.passed(findings, risk=max((f.risk for f in findings), default=0.0), **meta)

    # ------------------------------------------------------------ helpers

    @staticmethod
    def _alias_candidates(name: str) -> list[str]:
        n = canonical(name)
        return [f"python-{n}", f"py{n}", f"{n}-python", f"{n}py"]

    async def _resolve_import_aliases(self, ctx: Context, jobs: dict, lookups: dict[tuple[str, str], Lookup]) -> None:
        """An unmapped Python import that is not a project name is often `python-X` / `pyX`
        (`import ldap` -> python-ldap): look those up too before calling the import unknown."""
        wanted: list[tuple[Index, str]] = []
        waiting: list[_Job] = []
        for (iid, _), job in jobs.items():
            lk = lookups.get((iid, job.name))
            if (job.index.ecosystem == "pypi" and lk is not None and lk.status == "missing"
                    and any(r.kind == "import" for r in job.refs)):
                wanted.extend((job.index, c) for c in self._alias_candidates(job.name))
                waiting.append(job)
        if not wanted:
            return
        found: dict[tuple[str, str], Lookup] = {}
        pending = []
        for index, name in wanted:
            hit = self.client.peek(index, name)
            if hit is None:
                pending.append((index, name))
            else:
                found[(index.id, name)] = hit
        if pending and ctx.resources is not None:
            found.update(await self.client.lookup_many(ctx.resources, pending))
        for job in waiting:
            for c in self._alias_candidates(job.name):
                lk = found.get((job.index.id, c))
                if lk is not None and lk.status == "found":
                    job.resolved_as = c
                    break

    async def _reviewer_allowed(self, ctx: Context, refs: list[Ref]) -> set[tuple[str, str]]:
        """Packages reviewers allowed for this policy from the review queue (one store read per answer).

        Same layout the review queue writes: ns "allowlist", key "<policy>/<ecosystem>/<normalised name>".
        """
        if not refs or not ctx.policy or ctx.resources is None:
            return set()
        wanted = {f"{ctx.policy}/{r.ecosystem}/{self._norm(r)}": (r.ecosystem, self._norm(r))
                  for r in refs if r.ecosystem in ("pypi", "npm")}
        try:
            found = await ctx.resources.store.get_many(REVIEWER_ALLOWLIST_NS, list(wanted))
        except Exception as exc:  # the store being down must not hide findings: judge without it
            log.warning("reviewer allowlist unavailable: %s", exc)
            return set()
        return {wanted[k] for k in found}

    @staticmethod
    def _norm(ref: Ref) -> str:
        return canonical(ref.name) if ref.ecosystem == "pypi" else ref.name.lower()

    @staticmethod
    def _jobkey(index: Index, name: str) -> str:
        return canonical(name) if index.ecosystem == "pypi" else name.lower()

    @staticmethod
    def _glob(norm: str, raw: str, patterns: list[str]) -> bool:
        return any(fnmatch.fnmatchcase(norm, p.lower()) or fnmatch.fnmatchcase(raw, p) for p in patterns)

    def _is_private(self, ref: Ref) -> bool:
        n = self._norm(ref)
        return any(n.startswith(p.lower()) or ref.name.startswith(p) for p in self.cfg.private_prefixes)

    def _target(self, ref: Ref) -> tuple[Index | None, str]:
        """Which registry to ask, and under which name."""
        if ref.ecosystem == "npm":
            return self.npm, ref.name
        name = ref.name
        if ref.kind == "import":
            name, known = distribution_for(ref.module or ref.name)
            if known:
                return None, name  # the mapping names a real distribution: nothing to look up
        if self._is_private(ref):
            return (self.private, name) if self.private else (self.pypi, name)
        return self.pypi, name

    def _finding(self, ref: Ref, code: str, message: str, severity: Severity, risk: float, evidence: dict[str, Any]) -> Finding:
        ev = {"name": ref.name, "kind": ref.kind, "tool": ref.tool, **evidence}
        if ref.spec and ref.spec != ref.name:
            ev["spec"] = ref.spec
        if ref.module and ref.module != ref.name:
            ev["module"] = ref.module
        return Finding("packages", code, message, severity, risk, ref.span, ev)

    def _lookalike(self, eco: str, name: str):
        key = ("look", eco, name)
        if key not in self._memo:
            path = self.cfg.popular_pypi_file if eco == "pypi" else self.cfg.popular_npm_file
            self._remember(key, popular_names(eco, path).lookalike(name, self.cfg.lookalike_distance))
        return self._memo[key]

    def _signals(self, job: _Job, info: dict[str, Any], now: float, alias: str | None) -> tuple[list[str], list[str]]:
        # keyed by the record's identity fields; ages move slowly, so an hour's granularity is enough
        key = ("sig", job.index.id, job.name, info.get("latest"), info.get("last_upload"), int(now // 3600))
        if key not in self._memo:
            self._remember(key, (placeholder_reasons(info, now, self.cfg.min_age_days, alias),
                                 weak_signals(info, now, self.cfg.min_age_days)))
        reasons, weak = self._memo[key]
        return list(reasons), list(weak)

    def _remember(self, key: tuple, value: Any) -> None:
        if len(self._memo) > 50_000:
            self._memo.clear()
        self._memo[key] = value

    def _judge(self, ref: Ref, job: _Job, lk: Lookup, now: float) -> list[Finding]:
        eco = ref.ecosystem
        base_ev: dict[str, Any] = {"ecosystem": eco, "registry": lk.registry}
        if lk.stale:
            base_ev["stale_cache"] = True
        if job.name != ref.name:
            base_ev["distribution"] = job.name
        if self._is_private(ref):
            if self.private is None or lk.status != "found":
                why = "no private index is configured" if self.private is None else f"not found on {self.private.label}"
                return [self._finding(ref, "package.private_unresolved",
                                      f"{ref.name!r} has a private prefix but {why} (dependency confusion risk)",
                                      "high", 0.9, base_ev)]
            if ref.version and not version_exists(lk.info or {}, ref.version):
                return [self._finding(ref, "package.version_missing", f"{ref.name} has no version {ref.version}",
                                      "high", 0.75, {**base_ev, "version": ref.version})]
            return []  # the organisation's own index vouches for its packages
        out: list[Finding] = []
        if lk.status == "missing" and ref.index_url and ref.kind == "install":
            # installed from an index we were not asked to check: say so, do not call it invented
            return [self._finding(ref, "package.unverified",
                                  f"{ref.name!r} is not on {lk.registry}; the command installs from {ref.index_url}",
                                  "low", 0.2, {**base_ev, "index_url": ref.index_url, "reason": "other index"})]
        if lk.status == "missing":
            ev = dict(base_ev)
            look = self._lookalike(eco, job.name)
            if look:
                ev["closest"] = look.popular
            if eco == "pypi" and (alias := install_alias(ref.name)) and ref.kind != "import":
                ev["closest"] = alias
            if ref.kind == "import":
                if job.resolved_as:
                    return []  # e.g. `import ldap` is python-ldap's import name
                severity: Severity = "low"  # could be a path alias or a module we cannot see
                out.append(self._finding(ref, "package.unknown_import",
                                         f"import {ref.module or ref.name!r}: no package {job.name!r} on {lk.registry}"
                                         + (" (optional import)" if ref.optional else ""),
                                         severity, 0.2 if ref.optional else 0.35, ev))
            else:
                msg = f"{ref.name!r} does not exist on {lk.registry}"
                if "closest" in ev:
                    msg += f" (did you mean {ev['closest']!r}?)"
                out.append(self._finding(ref, "package.missing", msg, "high", 0.9, ev))
            return out

        info = lk.info or {}
        if ref.version and not version_exists(info, ref.version):
            out.append(self._finding(ref, "package.version_missing",
                                     f"{ref.name} has no version {ref.version} (latest: {info.get('latest') or '?'})",
                                     "high", 0.75, {**base_ev, "version": ref.version, "latest": info.get("latest")}))
        if ref.kind == "import":
            return out  # an import that resolves to a real project name says little more
        alias = install_alias(ref.name) if eco == "pypi" else None
        reasons, weak = self._signals(job, info, now, alias)
        if alias and not reasons and (info.get("n_releases") or 0) <= 3:
            reasons.append(f"the import name of {alias}, not the distribution")
        if reasons:
            ev = {**base_ev, "reasons": reasons, "summary": info.get("summary", "")}
            if alias:
                ev["closest"] = alias
            msg = f"{ref.name!r} is a placeholder or squat: {reasons[0]}"
            if alias:
                msg += f" (install {alias!r})"
            out.append(self._finding(ref, "package.placeholder", msg, "high", 0.85, ev))
            return out
        age = age_days(info, now)
        if lk.seen_missing_at and (info.get("first_upload") or now) >= lk.seen_missing_at - 60:
            out.append(self._finding(ref, "package.recent",
                                     f"{ref.name!r} was registered after llmvet saw it missing (possible slopsquat)",
                                     "high", 0.85, {**base_ev, "seen_missing_at": lk.seen_missing_at,
                                                    "first_upload": info.get("first_upload"), "signals": weak}))
        elif age is not None and age < self.cfg.min_age_days:
            out.append(self._finding(ref, "package.recent",
                                     f"{ref.name!r} first appeared {age:.0f} days ago (minimum {self.cfg.min_age_days:g})",
                                     "medium", 0.6, {**base_ev, "age_days": round(age, 1), "signals": weak}))
        look = self._lookalike(eco, job.name) if weak else None
        if look and (len(weak) >= 2 or "recent" in weak):
            how = {"edit": f"{look.distance} edit(s) from", "separators": "differs only in separators from",
                   "affix": f"adds {look.affix!r} to"}[look.kind]
            out.append(self._finding(ref, "package.lookalike", f"{ref.name!r} {how} popular {look.popular!r} and {', '.join(weak)}",
                                     "high", 0.8, {**base_ev, "closest": look.popular, "lookalike": look.kind,
                                                   "signals": weak}))
        return out
