"""`llmvet policy check|test|schema`: validate policies, unit-test them on texts, print their schema."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rich.markup import escape
from rich.table import Table

from llmvet.cli.common import err, load_policy_or_exit, out
from llmvet.policy.engine import Decision, evaluate
from llmvet.policy.loader import Policy, PolicyError, load_policy
from llmvet.policy.schema import Action, PolicyFile, Route
from llmvet.policy.yaml_lines import dotted, line_of, load_with_lines
from llmvet.resources import Resources
from llmvet.validators import registry
from llmvet.validators.base import Context


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("policy", help="check, test or describe policies")
    psub = p.add_subparsers(dest="policy_command", required=True, metavar="SUBCOMMAND")

    check = psub.add_parser("check", help="validate policy files; print every problem as file:line: field: message")
    check.add_argument("files", nargs="+", type=Path)
    check.set_defaults(run=run_check)

    test = psub.add_parser("test", help="run a policy on test cases with no upstream; expected vs actual")
    test.add_argument("policy", type=Path)
    test.add_argument("cases", type=Path)
    test.add_argument("--store", default=None, help="store for validators' caches (default: LLMVET_STORE or local)")
    test.set_defaults(run=run_test)

    schema = psub.add_parser("schema", help="print the JSON Schema of policy files and validators' settings")
    schema.add_argument("--validator", help="only this validator's settings")
    schema.set_defaults(run=run_schema)


def run_check(args: argparse.Namespace) -> int:
    status = 0
    for path in args.files:
        try:
            policy = load_policy(path)
        except PolicyError as exc:
            status = 1
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            continue
        for warning in policy.warnings:
            print(warning, file=sys.stderr)
        n = sum(len(r.validators) for r in policy.rules)
        out.print(f"{path}: ok ({len(policy.rules)} rules, {n} validators, version {policy.version})", markup=False)
    return status


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    text: str
    expect: Action
    model: str = "test-model"
    route: Route = "chat.completions"
    key: str | None = Field(None, description="key label, as in the policy's keys: section")
    prompt: str = ""
    expect_findings: list[str] = Field(default_factory=list, description="finding codes that must be present")


class CasesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cases: list[Case]


def load_cases(path: Path) -> list[Case]:
    try:
        text = path.read_text(encoding="utf-8")
        data, lines = load_with_lines(text)
    except (OSError, yaml.YAMLError) as exc:
        raise SystemExit(f"{path}:1: (file): {exc}") from None
    try:
        return CasesFile.model_validate(data).cases
    except ValidationError as exc:
        for e in exc.errors():
            loc = tuple(e["loc"])
            print(f"{path}:{line_of(lines, loc)}: {dotted(loc)}: {e['msg']}", file=sys.stderr)
        raise SystemExit(2) from None


async def open_resources(store_url: str | None) -> Resources:
    """Shared resources for running validators without a server (caches in the given store)."""
    from llmvet.store import open_store

    if not store_url:  # pydantic-settings only when the store comes from settings (`scan` always names one)
        from llmvet.config import Settings

        store_url = Settings().store
    return Resources(await open_store(store_url))


async def decide_text(
    policy: Policy, text: str, *, model: str, route: str, key: str | None, prompt: str, resources: Resources
) -> Decision:
    """Run the policy on one text with no upstream (used by `policy test` and `scan`)."""
    from llmvet.policy.engine import ALLOW

    rule = policy.select(key, model, route)
    if rule is None:
        return ALLOW
    request = {"model": model, "messages": [{"role": "user", "content": prompt}]}
    ctx = Context(
        text=text, request=request, route=route, model=model, key_label=key, policy=policy.name, resources=resources
    )
    return await evaluate(rule, ctx)


def run_test(args: argparse.Namespace) -> int:
    policy = load_policy_or_exit(args.policy)
    cases = load_cases(args.cases)

    async def run_all() -> list[tuple[Case, Decision]]:
        resources = await open_resources(args.store)  # one per run: models and caches load once
        try:
            return [
                (
                    c,
                    await decide_text(
                        policy, c.text, model=c.model, route=c.route, key=c.key, prompt=c.prompt, resources=resources
                    ),
                )
                for c in cases
            ]
        finally:
            await resources.close()

    results = asyncio.run(run_all())
    table = Table(title=escape(f"{args.policy} on {args.cases}"))
    for col in ("case", "expected", "actual", "rule", "findings", ""):
        table.add_column(col)
    failures = 0
    for case, decision in results:
        codes = sorted({f.code for f in decision.findings})
        missing = [c for c in case.expect_findings if c not in codes]
        ok = decision.action == case.expect and not missing
        failures += not ok
        shown = ", ".join(codes) + (f" (missing: {', '.join(missing)})" if missing else "")
        table.add_row(
            escape(case.name),
            case.expect,
            decision.action,
            escape(decision.rule or "-"),
            escape(shown),
            "[green]pass[/]" if ok else "[red]FAIL[/]",
        )
    out.print(table)
    out.print(f"{len(results) - failures} passed, {failures} failed")
    return 1 if failures else 0


def run_schema(args: argparse.Namespace) -> int:
    if args.validator:
        try:
            cls = registry.load(args.validator)
        except registry.UnknownValidator as exc:
            err.print(f"llmvet: {exc}")
            return 2
        print(json.dumps(config_schema(cls.Config), indent=2))
        return 0
    schema: dict[str, Any] = PolicyFile.model_json_schema(by_alias=True)
    validators: dict[str, Any] = {}
    for name in registry.available():
        try:
            validators[name] = config_schema(registry.load(name).Config)
        except Exception as exc:  # an optional validator that cannot load still leaves the rest usable
            validators[name] = {"description": f"unavailable: {exc}"}
    schema["x-llmvet-validators"] = validators
    print(json.dumps(schema, indent=2))
    return 0


def config_schema(config: type[BaseModel]) -> dict[str, Any]:
    """A validator's settings schema with every default, including list defaults made by a factory
    (pydantic leaves those out, and a script needs e.g. the packages validator's `fail_on` default)."""
    schema: dict[str, Any] = config.model_json_schema()
    for name, info in config.model_fields.items():
        prop = schema.get("properties", {}).get(info.alias or name)
        if prop is not None and "default" not in prop and info.default_factory is not None:
            prop["default"] = info.default_factory()  # type: ignore[call-arg]
    return schema
