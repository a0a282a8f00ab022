"""The scan's results as a table, JSON, JSON Lines or GitHub workflow annotations."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from llmvet.cli.scan.runner import Located, Outcome
from llmvet.policy.schema import SEVERITY


def exit_code(outcomes: Iterable[Outcome], input_errors: list[str]) -> int:
    """2 if anything could not be checked (never a silent pass), else 1 if anything fails, else 0."""
    return max([2 if input_errors else 0, *(o.exit_code for o in outcomes)])


def overall_action(outcomes: Iterable[Outcome]) -> str:
    return max((o.action for o in outcomes), key=SEVERITY.__getitem__, default="allow")


def to_json(outcomes: list[Outcome], input_errors: list[str]) -> dict[str, Any]:
    return {
        "decision": overall_action(outcomes),
        "exit_code": exit_code(outcomes, input_errors),
        "inputs": [_input_dict(o) for o in outcomes],
        "findings": [loc.to_dict() for o in outcomes for loc in o.findings],
        "errors": input_errors + [e for o in outcomes for e in o.errors],
    }


def to_jsonl(outcomes: list[Outcome], input_errors: list[str]) -> Iterable[str]:
    """One line per input (its id or path), then one line per input error."""
    for o in outcomes:
        yield json.dumps({**_input_dict(o), "findings": [loc.to_dict() for loc in o.findings]})
    for e in input_errors:
        yield json.dumps({"error": e, "exit_code": 2})


def _input_dict(o: Outcome) -> dict[str, Any]:
    return {
        "id": o.source,
        "decision": o.action,
        "exit_code": o.exit_code,
        "rules": sorted(o.rules),
        "failing": sum(loc.fails for loc in o.findings),
        "errors": o.errors,
    }


def where(loc: Located) -> str:
    cell = f"cell {loc.doc.cell}:" if loc.doc.cell is not None else ""
    return f"{loc.doc.source}:{cell}{loc.line}:{loc.column}"


def to_github(outcomes: list[Outcome], input_errors: list[str]) -> Iterable[str]:
    """Workflow commands: `::error` for failing findings and checks that could not run, `::notice` else."""
    for o in outcomes:
        for loc in o.findings:
            level = "error" if loc.fails else "notice"
            props = {"title": f"llmvet {loc.finding.code}"}
            if loc.doc.is_file:
                props["file"] = loc.doc.source
            if loc.doc.is_file and loc.doc.cell is None:  # a cell's lines are not the notebook file's
                props.update(line=str(loc.line), col=str(loc.column), endLine=str(loc.end_line))
            message = loc.finding.message
            if loc.doc.cell is not None:
                message = f"cell {loc.doc.cell}, line {loc.line}: {message}"
            elif not loc.doc.is_file:
                message = f"{o.source}: {message}"
            yield f"::{level} {_props(props)}::{_escape(message)}"
        for e in o.errors:
            yield f"::error title=llmvet could not check::{_escape(e)}"
    for e in input_errors:
        yield f"::error title=llmvet could not check::{_escape(e)}"


def _escape(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _props(props: dict[str, str]) -> str:
    return ",".join(f"{k}={_escape(v).replace(':', '%3A').replace(',', '%2C')}" for k, v in props.items())
