"""The settings flags commands share. Light on purpose: `llmvet scan --help` imports only this, not
pydantic, rich or the policy loader (a pre-commit hook or a CI step pays start-up on every run)."""

from __future__ import annotations

import argparse


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
        "audit_journal": (
            "--audit-journal",
            "FOLDER of the write-ahead audit journal (a local volume kept across restarts), or `off` "
            "(env LLMVET_AUDIT_JOURNAL; default: the user state folder)",
        ),
        "host": ("--host", "address to listen on (env LLMVET_HOST, default 127.0.0.1)"),
        "port": ("--port", "port to listen on (env LLMVET_PORT, default 8080)"),
    }
    for name in names:
        flag, help_ = helps[name]
        p.add_argument(flag, dest=name, default=None, help=help_)
