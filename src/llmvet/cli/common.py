"""Shared bits of the CLI: settings from flags, policy loading that prints problems, not tracebacks."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.console import Console

from llmvet.config import Settings
from llmvet.policy.loader import Policy, PolicyError, load_policy
from llmvet.resources import Resources

err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False)


def add_settings_flags(p: argparse.ArgumentParser, *names: str) -> None:
    helps = {
        "upstream": ("--upstream", "upstream API base URL (env LLMVET_UPSTREAM)"),
        "policy": ("--policy", "policy YAML file (env LLMVET_POLICY; default: the bundled default policy)"),
        "shadow_policy": (
            "--shadow-policy",
            "candidate policy run beside the enforced one, never enforced (env LLMVET_SHADOW_POLICY)",
        ),
        "policy_watch": (
            "--watch-policy",
            "SECONDS: reload when the policy (or shadow) file changes, checked at this interval "
            "(env LLMVET_POLICY_WATCH; default 0: off)",
        ),
        "store": ("--store", "sqlite:///path or redis://host:port/db (env LLMVET_STORE)"),
        "host": ("--host", "address to listen on (env LLMVET_HOST, default 127.0.0.1)"),
        "port": ("--port", "port to listen on (env LLMVET_PORT, default 8080)"),
    }
    for name in names:
        flag, help_ = helps[name]
        p.add_argument(flag, dest=name, default=None, help=help_)


def settings_from(args: argparse.Namespace, *names: str) -> Settings:
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

    return Resources(await open_store(store_url or Settings().store))
