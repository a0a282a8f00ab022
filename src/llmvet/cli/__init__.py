"""`llmvet` command line: one module per command group, each adding its sub-commands.

Only the module of the command being run is imported (`llmvet scan` in a pre-commit hook or a CI step
should not pay for the server's and the review queue's imports); `llmvet --help` imports them all.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from types import ModuleType

COMMANDS = {
    "serve": "serve_cmd",
    "policy": "policy_cmd",
    "scan": "scan_cmd",
    "review": "review_cmd",
    "audit": "audit_cmd",
    "report": "report_cmd",
}


def command_modules(argv: list[str] | None = None) -> list[ModuleType]:
    """The modules to register: the named command's alone, or every one (help, typos)."""
    first = next((a for a in (argv or []) if not a.startswith("-")), None)
    names = [COMMANDS[first]] if first in COMMANDS else list(COMMANDS.values())
    return [importlib.import_module(f"llmvet.cli.{name}") for name in names]


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llmvet", description="Guardrail proxy for OpenAI-compatible APIs.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in command_modules(argv):
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
