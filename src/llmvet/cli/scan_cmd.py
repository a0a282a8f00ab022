"""`llmvet scan FILE|-`: run a policy's validators on a text with no upstream (CI for prompts, documents)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from llmvet.cli.common import add_settings_flags, err, load_policy_or_exit, out, settings_from
from llmvet.cli.policy_cmd import decide_text, open_resources
from llmvet.policy.engine import Decision


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scan", help="vet a text file (or - for stdin) with a policy; exit 1 if it does not pass")
    p.add_argument("file", help="text to scan, or - for standard input")
    add_settings_flags(p, "policy", "store")
    p.add_argument("--model", default="scan", help="model name used to select the policy rule")
    p.add_argument("--route", default="chat.completions", choices=["chat.completions", "completions", "responses"])
    p.add_argument("--key", default=None, help="key label used to select the policy rule")
    p.add_argument("--json", action="store_true", help="print the decision as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args, "policy", "store")
    policy = load_policy_or_exit(settings.policy)
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    except OSError as exc:
        err.print(f"llmvet: cannot read {args.file}: {exc.strerror}")
        return 2

    async def scan() -> Decision:
        resources = await open_resources(settings.store)
        try:
            return await decide_text(
                policy, text, model=args.model, route=args.route, key=args.key, prompt="", resources=resources
            )
        finally:
            await resources.close()

    decision = asyncio.run(scan())
    if args.json:
        print(json.dumps(decision.to_dict(), indent=2))
    else:
        table = Table(title=escape(f"{args.file}: {decision.action} (rule {decision.rule or '-'})"))
        for col in ("validator", "code", "severity", "where", "message"):
            table.add_column(col)
        for f in decision.findings:
            where = _line_col(text, f.span[0]) if f.span else "-"
            table.add_row(*map(escape, (f.validator, f.code, f.severity, where, f.message)))
        for r in decision.runs:
            if r.verdict.error:
                table.add_row(escape(r.label), "error", "-", "-", escape(r.verdict.error))
        out.print(table)
    return 0 if decision.action == "allow" else 1


def _line_col(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"{line}:{col}"
