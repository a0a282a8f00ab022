"""`llmvet scan PATH…`: run a policy's validators on files, folders, globs, stdin or JSONL with no
upstream, in one process; for CI steps and pre-commit hooks. Exit 0 pass, 1 failing findings,
2 could not check (an unreadable input, a validator error or timeout: never a silent pass)."""

from __future__ import annotations

import argparse
import os

# Only the flags at import: `llmvet scan --help` (and every pre-commit run) should not pay for
# pydantic, rich, asyncio or the validators. Each part is imported when `run` needs it.
from llmvet.cli.flags import add_settings_flags

FORMATS = ("table", "json", "jsonl", "sarif", "github")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "scan",
        help="vet files, folders, globs, stdin (-) or JSONL with a policy; exit 1 on failing findings, 2 if unchecked",
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help="files, folders (honouring .gitignore), globs, or -")
    p.add_argument("--jsonl", metavar="FILE", help='JSON Lines input, one {"id", "text", "prompt"?, "model"?} a line')
    p.add_argument(
        "--diff", metavar="BASE[..HEAD]", help="scan only what a git change adds (BASE alone: to the work tree)"
    )
    p.add_argument("--format", choices=FORMATS, default=None, help="output format (default: table)")
    p.add_argument("--json", action="store_true", help="same as --format json")
    p.add_argument("--output", "-o", metavar="FILE", help="write the report here instead of standard output")
    add_settings_flags(p, "policy", "store")
    p.add_argument("--model", default="scan", help="model name used to select the policy rule")
    p.add_argument("--route", default="chat.completions", choices=["chat.completions", "completions", "responses"])
    p.add_argument("--key", default=None, help="key label used to select the policy rule")
    p.add_argument("--offline", action="store_true", help="no registry requests: judge from the cache, list the rest")
    p.add_argument("--concurrency", type=int, default=16, help="documents checked at once (default 16)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from llmvet.cli.common import err, load_policy_or_exit
    from llmvet.cli.scan.diffmode import Change, DiffError, collect_diff, keep_added
    from llmvet.cli.scan.inputs import collect
    from llmvet.cli.scan.runner import Options, outcomes, scan
    from llmvet.policy.loader import DEFAULT_POLICY

    if bool(args.diff) == bool(args.paths or args.jsonl):
        err.print("llmvet: give PATH…, - for standard input or --jsonl FILE; or --diff BASE[..HEAD] alone")
        return 2
    fmt = args.format or ("json" if args.json else "table")
    # the policy is the one setting a scan reads (the store is --store, LLMVET_STORE or the user cache):
    # no pydantic-settings, and an unrelated LLMVET_* variable cannot stop a CI scan
    policy = load_policy_or_exit(args.policy or os.environ.get("LLMVET_POLICY") or DEFAULT_POLICY)
    change: Change | None = None
    try:
        found, change = collect_diff(args.diff) if args.diff else (collect(args.paths, args.jsonl), None)
    except DiffError as exc:
        err.print(f"llmvet: {exc}", markup=False)
        return 2
    try:
        store = args.store or default_store()
    except OSError as exc:
        err.print(f"llmvet: cannot create the cache folder ({exc}); give --store", markup=False)
        return 2
    opts = Options(store, args.route, args.key, args.model, max(1, args.concurrency), args.offline)
    decisions = asyncio.run(scan(policy, found.documents, opts)) if found.documents else []
    by_source = outcomes(policy, found.sources, found.documents, decisions, opts)
    if change is not None:
        keep_added(by_source, change)
    return _report(fmt, list(by_source.values()), found.errors, args.output)


def default_store() -> str:
    """LLMVET_STORE if set, else a cache in the user's cache folder: a scan leaves nothing in the repo."""
    if os.environ.get("LLMVET_STORE"):
        return os.environ["LLMVET_STORE"]
    from platformdirs import user_cache_path

    folder = user_cache_path("llmvet", appauthor=False, ensure_exists=True)
    return f"sqlite:///{folder / 'scan.db'}"


def _report(fmt: str, results: list, input_errors: list[str], output: str | None) -> int:
    import json
    import sys

    from llmvet.cli.common import err
    from llmvet.cli.scan import report

    code = report.exit_code(results, input_errors)
    if fmt == "table":
        _table(results, input_errors, code)
        return code
    if fmt == "json":
        text = json.dumps(report.to_json(results, input_errors), indent=2)
    elif fmt == "jsonl":
        text = "\n".join(report.to_jsonl(results, input_errors))
    elif fmt == "github":
        text = "\n".join(report.to_github(results, input_errors))
    else:
        from llmvet.cli.scan.sarif import to_sarif

        text = json.dumps(to_sarif(results, input_errors, code), indent=2)
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    elif text:
        sys.stdout.write(text + "\n")
    for e in input_errors:  # machine formats keep errors in the output too; people read stderr
        err.print(f"llmvet: {e}", markup=False)
    return code


def _table(results: list, input_errors: list[str], code: int) -> None:
    from rich.markup import escape
    from rich.table import Table

    from llmvet.cli.common import err, out
    from llmvet.cli.scan import report

    verdict = {0: "pass", 1: "fail", 2: "could not check"}[code]
    table = Table(title=escape(f"llmvet scan: {report.overall_action(results)} ({verdict}, {len(results)} inputs)"))
    for col in ("where", "validator", "code", "severity", "fails", "message"):
        table.add_column(col, overflow="fold")  # wrap, never cut: a CI log is read after the fact
    for o in results:
        for loc in o.findings:
            f = loc.finding
            row = (report.where(loc), f.validator, f.code, f.severity, "yes" if loc.fails else "no", f.message)
            table.add_row(*map(escape, row))
        for e in o.errors:
            table.add_row(escape(o.source), "-", "error", "-", "yes", escape(e))
    out.print(table)
    for e in input_errors:
        err.print(f"llmvet: {e}", markup=False)
