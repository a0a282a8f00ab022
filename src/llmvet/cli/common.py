"""Shared bits of the CLI: settings from flags, policy loading that prints problems, not tracebacks."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from rich.console import Console

from llmvet.cli.flags import add_settings_flags
from llmvet.policy.loader import Policy, PolicyError, load_policy
from llmvet.resources import Resources

if TYPE_CHECKING:  # pydantic-settings is imported by the commands that read settings, not by `scan`
    from llmvet.config import Settings

__all__ = ["add_settings_flags", "err", "load_policy_or_exit", "out", "settings_from"]

err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False)


def settings_from(args: argparse.Namespace, *names: str) -> Settings:
    from llmvet.config import Settings

    overrides: dict[str, Any] = {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        for e in exc.errors():
            field = ".".join(map(str, e["loc"]))
            err.print(f"llmvet: invalid setting {field}: {e['msg']}")
        sys.exit(2)


def load_policy_or_exit(path: Path | str, warn: Callable[[str], None] | None = None) -> Policy:
    """The policy, or exit 2 after printing its problems; its warnings go to `warn` (default: stderr)."""
    try:
        policy = load_policy(path)
    except PolicyError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        err.print(f"llmvet: policy {path} has {len([p for p in exc.problems if p.level == 'error'])} error(s)")
        sys.exit(2)
    for warning in policy.warnings:
        if warn is not None:
            warn(str(warning))
        else:
            print(warning, file=sys.stderr)
    return policy


async def open_resources(store_url: str | None) -> Resources:
    """Shared resources for running validators without a server (caches in the given store)."""
    from llmvet.store import open_store

    if not store_url:  # pydantic-settings only when the store comes from settings (`scan` always names one)
        from llmvet.config import Settings

        store_url = Settings().store
    return Resources(await open_store(store_url))
