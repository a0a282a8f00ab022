"""`llmvet` command line: one module per command group, each adding its sub-commands."""

from __future__ import annotations

import argparse
import sys

from llmvet.cli import audit_cmd, policy_cmd, report_cmd, review_cmd, scan_cmd, serve_cmd

COMMAND_MODULES = [serve_cmd, policy_cmd, scan_cmd, review_cmd, audit_cmd, report_cmd]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llmvet", description="Guardrail proxy for OpenAI-compatible APIs.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
