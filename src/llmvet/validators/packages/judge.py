"""Judging: what a registry's answer (or the policy) means for one reference, as findings.

Every finding's severity and risk come from `codes.GRADES`, one table keyed by finding code and the
case that produced it, so how loud each signal is can be read and tuned in one place.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from llmvet.validators.base import Finding
from llmvet.validators.packages.codes import GRADES
from llmvet.validators.packages.config import PackagesConfig
from llmvet.validators.packages.import_map import install_alias
from llmvet.validators.packages.refs import Ref
from llmvet.validators.packages.registry import Index, Lookup, canonical
from llmvet.validators.packages.signals import (
    Lookalike,
    age_days,
    placeholder_reasons,
    popular_names,
    version_exists,
    weak_signals,
)

ECOSYSTEM_LABEL = {"pypi": "PyPI", "npm": "npm"}
_CLOCK_WORDED = "package.recent"  # its message and evidence give an age: never remembered (see judge_all)
_JUDGED_MAX = 20_000
_CODE = attrgetter("code")
_LOOKALIKE_HOW = {
    "edit": "{distance} edit(s) from",
    "separators": "differs only in separators from",
    "affix": "adds {affix!r} to",
}


def finding(ref: Ref, code: str, message: str, evidence: dict[str, Any], case: str = "") -> Finding:
    """A finding graded from GRADES, with the reference's identity in its evidence."""
    severity, risk = GRADES[(code, case)]
    ev = {"name": ref.name, "kind": ref.kind, "tool": ref.tool, **evidence}
    if "closest" in ev:  # the most likely intended real package: a suggested fix for people and re-asks
        ev.setdefault("suggestion", ev["closest"])
        if "closest_ecosystem" in ev:  # ... on the other registry: install it with that ecosystem's tool
            ev.setdefault("suggestion_ecosystem", ev["closest_ecosystem"])
    if ref.spec and ref.spec != ref.name:
        ev["spec"] = ref.spec
    if ref.module and ref.module != ref.name:
        ev["module"] = ref.module
    return Finding("packages", code, message, severity, risk, ref.span, ev)


def _at(f: Finding, span: tuple[int, int] | None) -> Finding:
    """A copy of `f` at `span`, its evidence copied (what dataclasses.replace gives, without its cost)."""
    return Finding(
        f.validator, f.code, f.message, f.severity, f.risk, span, dict(f.evidence), dict(f.audit_evidence), f.id
    )


def norm_name(ref: Ref) -> str:
    """The name as its registry compares names (PEP 503 for PyPI, lower case for npm)."""
    return canonical(ref.name) if ref.ecosystem == "pypi" else ref.name.lower()


def import_names_package(ref: Ref, job: Job) -> bool:
    """Is the name looked up for this import the package itself (not a guess from a namespace)?
    npm specifiers are package names; a Python import reaches here only when no known distribution
    provides the module, and then it is looked up under its own top-level name."""
    if ref.ecosystem == "npm":
        return True
    return canonical(job.name) == canonical(ref.name)


def job_key(index: Index, name: str) -> str:
    return canonical(name) if index.ecosystem == "pypi" else name.lower()


def matches(norm: str, raw: str, patterns: list[str]) -> bool:
    """Does the name (normalised or as written) match one of the policy's globs?"""
    return any(fnmatch.fnmatchcase(norm, p.lower()) or fnmatch.fnmatchcase(raw, p) for p in patterns)


@dataclass(slots=True)
class Job:
    """One (registry, name) to look up, and the refs that depend on it."""

    index: Index
    name: str
    refs: list[Ref] = field(default_factory=list)
    resolved_as: str | None = None  # an import found under python-X / pyX
    elsewhere: tuple[str, str] | None = None  # (ecosystem, name): missing here, found on the other registry


class Judge:
    """Turns one reference and its registry answer into findings; memoises the name signals."""

    def __init__(self, config: PackagesConfig, private: Index | None) -> None:
        self.config = config
        self.private = private
        # memoised name signals (lookalike search, placeholder wording): the warm path only reads dicts
        self._memo: dict[tuple[Any, ...], Any] = {}
        # what each kind of reference to each registry record gave, for the process (see judge_all)
        self._judged: dict[tuple[Any, ...], tuple[Lookup, int, list[Finding]]] = {}

    def is_private(self, ref: Ref) -> bool:
        if not self.config.private_prefixes:
            return False  # (the usual case, asked several times per reference)
        n = norm_name(ref)
        return any(n.startswith(p.lower()) or ref.name.startswith(p) for p in self.config.private_prefixes)

    def unreachable(self, ref: Ref, job: Job, lk: Lookup | None) -> Finding:
        mode = self.config.registry_unreachable
        return finding(
            ref,
            "package.unverified",
            f"could not reach {job.index.label} to check {ref.name!r}",
            {
                "ecosystem": ref.ecosystem,
                "registry": job.index.label,
                "error": lk.error if lk else "",
                "registry_unreachable": mode,
            },
            "unreachable_closed" if mode == "closed" else "unreachable",
        )

    def judge_all(self, jobs: dict[tuple[str, str], Job], lookups: dict[tuple[str, str], Lookup], now: float,
                  findings: list[Finding]) -> int:  # fmt: skip
        """Judge every ref of every job into `findings`; returns how many could not be checked.

        A reference judged before in this process (the same fields but its place, the same job, the same
        registry answer, the same hour: what `judge` reads) gets the findings it gave then, at its own
        place, without judging again: most answers name names other answers named. The registry answer is
        the Lookup itself (one is never changed once made; the memory cache hands out the same one for a
        record). Findings worded with the clock (an age in days) are judged every time."""
        unchecked = 0
        memo, remembered, add = self._judged, self._judged.get, findings.append
        hour = int(now // 3600)  # (the name signals are memoised by the hour too)
        for (iid, _), job in jobs.items():
            name = job.name
            lk = lookups.get((iid, name))
            if lk is None or lk.status == "unreachable":
                unchecked += len(job.refs)
                findings.extend(self.unreachable(ref, job, lk) for ref in job.refs)
                continue
            resolved_as, elsewhere = job.resolved_as, job.elsewhere
            for ref in job.refs:
                # every field of `ref` but its span (REF_KEY_FIELDS), then the job's: one flat tuple, its
                # fields read inline (half what attrgetter's lookups cost; one tuple to hash and compare)
                key = (ref.ecosystem, ref.name, ref.kind, ref.tool, ref.version, ref.spec, ref.optional, ref.module,
                       ref.index_url, ref.extra_index, iid, name, resolved_as, elsewhere)  # fmt: skip
                hit = remembered(key)
                if hit is None or hit[0] is not lk or hit[1] != hour:
                    got = self.judge(ref, job, lk, now)
                    findings.extend(got)
                    if got and _CLOCK_WORDED in map(_CODE, got):
                        continue
                    if len(memo) >= _JUDGED_MAX:
                        memo.clear()
                    kept = []  # kept apart from the answer's (the engine adds to their evidence)
                    for f in got:  # (a loop, not a comprehension: no function made per judged name)
                        kept.append(_at(f, f.span))
                    memo[key] = (lk, hour, kept)
                    continue
                for f in hit[2]:  # (most names are quiet: nothing to copy, no generator made); _at, inline
                    add(Finding(f.validator, f.code, f.message, f.severity, f.risk, ref.span, dict(f.evidence),
                                dict(f.audit_evidence), f.id))  # fmt: skip
        return unchecked

    def judge(self, ref: Ref, job: Job, lk: Lookup, now: float) -> list[Finding]:
        base_ev: dict[str, Any] = {"ecosystem": ref.ecosystem, "registry": lk.registry}
        if lk.stale:
            base_ev["stale_cache"] = True
        if job.name != ref.name:
            base_ev["distribution"] = job.name
        if self.is_private(ref):
            return self._private(ref, lk, base_ev)
        if lk.status == "missing":
            return self._missing(ref, job, lk, base_ev)
        return self._found(ref, job, lk, now, base_ev)

    # ------------------------------------------------------------ cases

    def _private(self, ref: Ref, lk: Lookup, base_ev: dict[str, Any]) -> list[Finding]:
        if self.private is None or lk.status != "found":
            why = "no private index is configured" if self.private is None else f"not found on {self.private.label}"
            return [
                finding(
                    ref,
                    "package.private_unresolved",
                    f"{ref.name!r} has a private prefix but {why} (dependency confusion risk)",
                    base_ev,
                )
            ]
        if ref.version and not version_exists(lk.info or {}, ref.version):
            return [
                finding(
                    ref,
                    "package.version_missing",
                    f"{ref.name} has no version {ref.version}",
                    {**base_ev, "version": ref.version},
                )
            ]
        return []  # the organisation's own index vouches for its packages

    def _missing(self, ref: Ref, job: Job, lk: Lookup, base_ev: dict[str, Any]) -> list[Finding]:
        if ref.index_url and ref.kind != "import" and not ref.extra_index:
            # installed from an index we were not asked to check: say so, do not call it invented
            return [
                finding(
                    ref,
                    "package.unverified",
                    f"{ref.name!r} is not on {lk.registry}; the command installs from {ref.index_url}",
                    {**base_ev, "index_url": ref.index_url, "reason": "other index"},
                    "other_index",
                )
            ]
        ev = dict(base_ev)
        self._suggest(ref, job, ev)
        if ref.kind == "import":
            if job.resolved_as:
                return []  # e.g. `import ldap` is python-ldap's import name
            if not ref.optional and import_names_package(ref, job):
                # `require('x')` installs `x`; an unmapped Python top-level module is looked up
                # under its own name: nothing else could provide it, so the code cannot run
                msg = f"import {ref.module or ref.name!r}: no package {job.name!r} on {lk.registry}"
                if "closest" in ev:
                    msg += f" (did you mean {ev['closest']!r}?)"
                return [finding(ref, "package.missing", msg, {**ev, "reason": "the import name is the package name"})]
            # low severity: a guessed distribution (namespace packages) or a fallback import
            return [
                finding(
                    ref,
                    "package.unknown_import",
                    f"import {ref.module or ref.name!r}: no package {job.name!r} on {lk.registry}"
                    + (" (optional import)" if ref.optional else ""),
                    ev,
                    "optional" if ref.optional else "",
                )
            ]
        msg = f"{ref.name!r} does not exist on {lk.registry}"
        if "closest_ecosystem" in ev:
            msg += f" (did you mean the {ECOSYSTEM_LABEL[ev['closest_ecosystem']]} package {ev['closest']!r}?)"
        elif "closest" in ev:
            msg += f" (did you mean {ev['closest']!r}?)"
        if ref.extra_index:  # pip asks the public index too: whoever registers the name there wins
            ev.update(index_url=ref.index_url, reason="dependency confusion")
            msg += (
                f"; --extra-index-url {ref.index_url} does not stop pip taking it from the public index,"
                " where anyone can register the name (dependency confusion)"
            )
        return [finding(ref, "package.missing", msg, ev)]

    def _suggest(self, ref: Ref, job: Job, ev: dict[str, Any]) -> None:
        """The most likely intended real package of a missing name, strongest evidence last: a popular
        name a few edits away, the same name on the other registry, the import name's known
        distribution. The other registry's name wins over an edit-distance guess when it is popular
        there (`pip install axios` is not a typo of a PyPI name)."""
        look = self._lookalike(ref.ecosystem, job.name)
        if look:
            ev["closest"] = look.popular
        if job.elsewhere and ref.kind != "import":
            eco, name = job.elsewhere
            path = self.config.popular_file(eco)
            if "closest" not in ev or name in popular_names(eco, path):
                ev.update(closest=name, closest_ecosystem=eco)
        if ref.ecosystem == "pypi" and (alias := install_alias(ref.name)) and ref.kind != "import":
            ev["closest"] = alias
            ev.pop("closest_ecosystem", None)

    def _found(self, ref: Ref, job: Job, lk: Lookup, now: float, base_ev: dict[str, Any]) -> list[Finding]:
        out: list[Finding] = []
        info = lk.info or {}
        if ref.version and not version_exists(info, ref.version):
            out.append(
                finding(
                    ref,
                    "package.version_missing",
                    f"{ref.name} has no version {ref.version} (latest: {info.get('latest') or '?'})",
                    {**base_ev, "version": ref.version, "latest": info.get("latest")},
                )
            )
        if ref.kind == "import":
            return out  # an import that resolves to a real project name says little more
        alias = install_alias(ref.name) if ref.ecosystem == "pypi" else None
        reasons, weak = self._signals(job, info, now, alias)
        if alias and not reasons and (info.get("n_releases") or 0) <= 3:
            reasons.append(f"the import name of {alias}, not the distribution")
        if not reasons and len(weak) >= 2 and (variant := self._popular_variant(ref.ecosystem, job.name)):
            # a hollow project under a variant of a more popular name, even if the variant is popular too
            reasons.append(f"a hollow project ({', '.join(weak)}) named like popular {variant.popular!r}")
        if reasons:
            out.append(self._placeholder(ref, info, reasons, alias, base_ev))
            return out
        recent = self._recent(ref, lk, info, now, weak, base_ev)
        if recent is not None:
            out.append(recent)
        look = self._lookalike(ref.ecosystem, job.name) if weak else None
        if look and (len(weak) >= 2 or "recent" in weak):
            how = _LOOKALIKE_HOW[look.kind].format(distance=look.distance, affix=look.affix)
            out.append(
                finding(
                    ref,
                    "package.lookalike",
                    f"{ref.name!r} {how} popular {look.popular!r} and {', '.join(weak)}",
                    {**base_ev, "closest": look.popular, "lookalike": look.kind, "signals": weak},
                )
            )
        return out

    @staticmethod
    def _placeholder(
        ref: Ref, info: dict[str, Any], reasons: list[str], alias: str | None, base_ev: dict[str, Any]
    ) -> Finding:
        ev = {**base_ev, "reasons": reasons, "summary": info.get("summary", "")}
        if alias:
            ev["closest"] = alias
        msg = f"{ref.name!r} is a placeholder or squat: {reasons[0]}"
        if alias:
            msg += f" (install {alias!r})"
        return finding(ref, "package.placeholder", msg, ev)

    def _recent(
        self, ref: Ref, lk: Lookup, info: dict[str, Any], now: float, weak: list[str], base_ev: dict[str, Any]
    ) -> Finding | None:
        if lk.seen_missing_at and (info.get("first_upload") or now) >= lk.seen_missing_at - 60:
            return finding(
                ref,
                "package.recent",
                f"{ref.name!r} was registered after llmvet saw it missing (possible slopsquat)",
                {
                    **base_ev,
                    "seen_missing_at": lk.seen_missing_at,
                    "first_upload": info.get("first_upload"),
                    "signals": weak,
                },
                "registered_after_missing",
            )
        age = age_days(info, now)
        if age is not None and age < self.config.min_age_days:
            return finding(
                ref,
                "package.recent",
                f"{ref.name!r} first appeared {age:.0f} days ago (minimum {self.config.min_age_days:g})",
                {**base_ev, "age_days": round(age, 1), "signals": weak},
                "young",
            )
        return None

    # ------------------------------------------------------------ memoised name signals

    def _lookalike(self, eco: str, name: str) -> Lookalike | None:
        key = ("look", eco, name)
        if key not in self._memo:
            path = self.config.popular_file(eco)
            self._remember(key, popular_names(eco, path).lookalike(name, self.config.lookalike_distance))
        look: Lookalike | None = self._memo[key]
        return look

    def _popular_variant(self, eco: str, name: str) -> Lookalike | None:
        key = ("variant", eco, name)
        if key not in self._memo:
            path = self.config.popular_file(eco)
            self._remember(key, popular_names(eco, path).variant_of_more_popular(name))
        variant: Lookalike | None = self._memo[key]
        return variant

    def _signals(self, job: Job, info: dict[str, Any], now: float, alias: str | None) -> tuple[list[str], list[str]]:
        # keyed by the record's identity fields; ages move slowly, so an hour's granularity is enough.
        # The alias is part of the key: one job holds every spelling of a project in the answer
        # (`pil`, `PIL`), and wording counts for fewer releases when the name is an import alias.
        key = ("sig", job.index.id, job.name, alias, info.get("latest"), info.get("last_upload"), int(now // 3600))
        if key not in self._memo:
            self._remember(
                key,
                (
                    placeholder_reasons(info, now, self.config.min_age_days, alias),
                    weak_signals(info, now, self.config.min_age_days),
                ),
            )
        reasons, weak = self._memo[key]
        return list(reasons), list(weak)

    def _remember(self, key: tuple[Any, ...], value: Any) -> None:
        if len(self._memo) > 50_000:
            self._memo.clear()
        self._memo[key] = value
