"""SARIF 2.1.0: one run, rule ids = finding codes, a result per finding with file/line/column, so
code-scanning UIs show findings inline. Failing findings are `error`, informational ones `note`."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from urllib.parse import quote

from llmvet.cli.scan.runner import Located, Outcome

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def to_sarif(outcomes: list[Outcome], input_errors: list[str], exit_code: int) -> dict[str, Any]:
    located = [loc for o in outcomes for loc in o.findings]
    rule_ids = sorted({loc.finding.code for loc in located})
    index = {code: i for i, code in enumerate(rule_ids)}
    errors = input_errors + [e for o in outcomes for e in o.errors]
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "llmvet",
                        "version": _version(),
                        "rules": [_rule(code, located) for code in rule_ids],
                    }
                },
                "results": [_result(loc, index) for loc in located],
                "invocations": [
                    {
                        "executionSuccessful": exit_code != 2,
                        "exitCode": exit_code,
                        "toolExecutionNotifications": [{"level": "error", "message": {"text": e}} for e in errors],
                    }
                ],
            }
        ],
    }


def _version() -> str:
    try:
        return version("llmvet")
    except PackageNotFoundError:  # running from a source tree
        return "0"


def _rule(code: str, located: list[Located]) -> dict[str, Any]:
    validator = next(loc.finding.validator for loc in located if loc.finding.code == code)
    return {
        "id": code,
        "name": code.replace(".", "_"),
        "shortDescription": {"text": f"llmvet {validator} finding {code}"},
        "properties": {"validator": validator},
    }


def _result(loc: Located, index: dict[str, int]) -> dict[str, Any]:
    f = loc.finding
    result: dict[str, Any] = {
        "ruleId": f.code,
        "ruleIndex": index[f.code],
        "level": "error" if loc.fails else "note",
        "message": {"text": f.message},
        "properties": {"fails": loc.fails, "severity": f.severity, "validator": f.validator, "input": loc.doc.source},
    }
    if not loc.doc.is_file:
        return result
    physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(loc.doc.source)}}
    if loc.doc.cell is not None:  # lines count within the cell, not in the notebook's JSON
        result["properties"]["cell"] = loc.doc.cell
        result["message"]["text"] = f"cell {loc.doc.cell}, line {loc.line}: {f.message}"
    else:
        region = {"startLine": loc.line, "startColumn": loc.column}
        if (loc.end_line, loc.end_column) > (loc.line, loc.column):
            region.update(endLine=loc.end_line, endColumn=loc.end_column)
        physical["region"] = region
    result["locations"] = [{"physicalLocation": physical}]
    return result


def _uri(source: str) -> str:
    """A relative URI for a relative path (code scanning resolves it against the checkout), else file:."""
    path = Path(source)
    return path.as_uri() if path.is_absolute() else quote(path.as_posix())
