"""Read a policy file, check it completely, and compile it: every problem is `file:line: field: message`."""

from __future__ import annotations

import fnmatch
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from llmvet.policy.schema import HELD_ONLY_ACTIONS, KeyEntry, PolicyFile, Route, Rule, ValidatorRef
from llmvet.policy.yaml_lines import Path_, dotted, line_of, load_with_lines
from llmvet.validators import registry
from llmvet.validators.base import Validator

BUNDLED_POLICIES = Path(__file__).resolve().parent.parent / "policies"
DEFAULT_POLICY = BUNDLED_POLICIES / "default.yaml"


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    field: str
    message: str
    level: str = "error"

    def __str__(self) -> str:
        prefix = "" if self.level == "error" else f"{self.level}: "
        return f"{self.file}:{self.line}: {self.field}: {prefix}{self.message}"


class PolicyError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(map(str, problems)))


@dataclass
class CompiledValidator:
    ref: ValidatorRef
    instance: Validator

    @property
    def label(self) -> str:
        return self.ref.label


@dataclass
class CompiledRule:
    rule: Rule
    validators: list[CompiledValidator]

    @property
    def name(self) -> str:
        return self.rule.name

    def matches(self, key_label: str | None, model: str, route: str) -> bool:
        m = self.rule.match
        if route not in m.routes:
            return False
        if not any(fnmatch.fnmatchcase(model, g) for g in m.models):
            return False
        return any(fnmatch.fnmatchcase(key_label or "", g) for g in m.keys) or "*" in m.keys


@dataclass
class Policy:
    file: str
    name: str
    version: str  # content hash: which exact policy text decided a response
    rules: list[CompiledRule]
    keys: dict[str, KeyEntry]  # sha256(client key) -> entry
    warnings: list[Problem] = field(default_factory=list)
    _selection_cache: dict[tuple[str | None, str, str], CompiledRule | None] = field(default_factory=dict)

    def key_entry(self, key_sha256: str | None) -> KeyEntry | None:
        return self.keys.get(key_sha256) if key_sha256 else None

    def select(self, key_label: str | None, model: str, route: Route | str) -> CompiledRule | None:
        """The first rule matching this traffic (cached: the rule set is fixed once loaded)."""
        cache_key = (key_label, model, route)
        try:
            return self._selection_cache[cache_key]
        except KeyError:
            pass
        found = next((r for r in self.rules if r.matches(key_label, model, route)), None)
        if len(self._selection_cache) < 10_000:
            self._selection_cache[cache_key] = found
        return found


def load_policy(path: str | Path) -> Policy:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError([Problem(str(p), 0, "(file)", f"cannot read policy: {exc.strerror or exc}")]) from None
    return parse_policy(text, str(p))


def parse_policy(text: str, filename: str = "<policy>") -> Policy:
    try:
        data, lines = load_with_lines(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        msg = getattr(exc, "problem", None) or str(exc)
        raise PolicyError([Problem(filename, line, "(yaml)", f"invalid YAML: {msg}")]) from None
    if data is None:  # an empty file (or one being written) must not load as "vet nothing"
        raise PolicyError([Problem(filename, 1, "(top level)", "the policy is empty: it needs `rules:`")])
    if not isinstance(data, dict):
        raise PolicyError([Problem(filename, 1, "(top level)", "a policy must be a mapping with `rules:`")])
    if "rules" not in data:  # a file cut short before its rules would otherwise switch vetting off
        raise PolicyError(
            [Problem(filename, 1, "rules", "a policy needs `rules:` (write `rules: []` to vet nothing on purpose)")]
        )

    problems: list[Problem] = []

    def report(path: Path_, message: str, level: str = "error") -> None:
        problems.append(Problem(filename, line_of(lines, path), dotted(path), message, level))

    try:
        spec = PolicyFile.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            report(tuple(err["loc"]), _message(err))
        _check_raw_validators(data, report)  # so one run shows validator problems too
        raise PolicyError(problems) from None

    seen: set[str] = set()
    for i, rule in enumerate(spec.rules):
        if rule.name in seen:
            report(("rules", i, "name"), f"duplicate rule name {rule.name!r}")
        seen.add(rule.name)
        held = sorted(rule.actions() & HELD_ONLY_ACTIONS)
        if rule.stream.mode == "incremental" and held:
            report(
                ("rules", i, "stream", "mode"),
                f"an incremental stream cannot {' or '.join(held)} once text has gone out: "
                "use mode buffer (or auto, which picks buffer for this rule)",
            )

    keys = _compile_keys(spec, report)
    rules = [CompiledRule(rule, _compile_validators(i, rule, report)) for i, rule in enumerate(spec.rules)]
    errors = [p for p in problems if p.level == "error"]
    if errors:
        raise PolicyError(problems)
    version = hashlib.sha256(text.encode()).hexdigest()[:12]
    return Policy(filename, spec.name, version, rules, keys, [p for p in problems if p.level != "error"])


def _compile_keys(spec: PolicyFile, report: Any) -> dict[str, KeyEntry]:
    keys: dict[str, KeyEntry] = {}
    for i, entry in enumerate(spec.keys):
        for digest in entry.key_sha256:
            keys[digest.lower()] = entry
        for j, var in enumerate(entry.key_env):
            value = os.environ.get(var)
            if not value:
                report(("keys", i, "key_env", j), f"environment variable {var} is not set")
                continue
            keys[hashlib.sha256(value.encode()).hexdigest()] = entry
        if entry.upstream_key_env and not os.environ.get(entry.upstream_key_env):
            report(("keys", i, "upstream_key_env"), f"environment variable {entry.upstream_key_env} is not set")
    return keys


def _check_raw_validators(data: dict[str, Any], report: Any) -> None:
    """Best-effort check of validator entries in a file whose overall shape did not validate."""
    rules = data.get("rules")
    for i, rule in enumerate(rules if isinstance(rules, list) else []):
        entries = rule.get("validators") if isinstance(rule, dict) else None
        for j, entry in enumerate(entries if isinstance(entries, list) else []):
            if isinstance(entry, dict):
                try:
                    ref = ValidatorRef.model_validate(entry)
                except ValidationError:
                    continue  # already reported by the schema pass
                _compile_one(("rules", i, "validators", j), ref, report)


def _compile_validators(i: int, rule: Rule, report: Any) -> list[CompiledValidator]:
    compiled = (_compile_one(("rules", i, "validators", j), ref, report) for j, ref in enumerate(rule.validators))
    return [c for c in compiled if c is not None]


def _compile_one(where: Path_, ref: ValidatorRef, report: Any) -> CompiledValidator | None:
    try:
        cls = registry.load(ref.use)
    except registry.UnknownValidator as exc:
        report((*where, "use"), str(exc))
        return None
    except Exception as exc:  # a plug-in that fails to import must not crash start-up
        report((*where, "use"), f"validator {ref.use!r} failed to load: {type(exc).__name__}: {exc}")
        return None
    try:
        config = cls.Config.model_validate(ref.with_)
    except ValidationError as exc:
        for err in exc.errors():
            report((*where, "with", *err["loc"]), _message(err))
        return None
    try:
        instance = cls(config)
    except Exception as exc:
        report((*where, "with"), f"{type(exc).__name__}: {exc}")
        return None
    for problem in instance.problems():
        report((*where, "use"), problem, "warning")
    return CompiledValidator(ref, instance)


def _message(err: ErrorDetails) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown field"
    if err["type"] == "missing":
        return "required field is missing"
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "literal_error" and "input" in err:
        msg += f" (got {err['input']!r})"
    return msg
