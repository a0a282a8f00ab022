"""`llmvet serve`: run the proxy under uvicorn (uvloop + httptools)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from typing import TypedDict

from llmvet.cli.common import add_settings_flags, err, load_policy_or_exit, settings_from

FIELDS = ("upstream", "policy", "shadow_policy", "policy_watch", "store", "host", "port")


class _ServerOptions(TypedDict):
    """The uvicorn.run() options shared by the one-process and the multi-worker start (typed per key,
    so mypy checks each against uvicorn's signature)."""

    host: str
    port: int
    loop: str
    http: str
    log_level: str
    access_log: bool
    timeout_graceful_shutdown: int


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the proxy")
    add_settings_flags(p, *FIELDS)
    p.add_argument("--workers", type=int, default=1, help="worker processes (use a redis:// store with more than 1)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    settings = settings_from(args, *FIELDS)
    if not settings.upstream:
        err.print("llmvet: no upstream configured: pass --upstream URL or set LLMVET_UPSTREAM")
        return 2
    policy = load_policy_or_exit(settings.policy)  # a bad policy stops here, with file:line messages
    if settings.shadow_policy is not None:
        load_policy_or_exit(settings.shadow_policy)  # so does a bad candidate
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    common = _ServerOptions(
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        log_level=settings.log_level,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    # uvicorn re-raises the SIGTERM it shut down for; end with status 0 then (a drained, clean stop).
    signal.signal(signal.SIGTERM, _exit_cleanly)
    if args.workers > 1:
        # Workers are separate processes: hand them the resolved settings through the environment.
        for name, value in settings.model_dump(mode="json").items():
            if value is not None:  # unset stays unset (str(None) would be a setting "None")
                os.environ[f"LLMVET_{name.upper()}"] = str(value)
        uvicorn.run("llmvet.proxy.app:app_from_env", factory=True, workers=args.workers, **common)
        return 0
    from llmvet.proxy.app import create_app

    try:
        app = create_app(settings, policy)
    except ValueError as exc:  # a bad setting of an extension (review, observe): say which, no traceback
        err.print(f"llmvet: {exc}", markup=False)
        return 2
    uvicorn.run(app, **common)
    return 0


def _exit_cleanly(sig: int, frame: object) -> None:
    raise SystemExit(0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run(argparse.Namespace()))
