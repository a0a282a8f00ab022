"""`llmvet serve`: run the proxy under uvicorn (uvloop + httptools)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import logging.config
import os
import signal
import sys
import tempfile
from typing import TYPE_CHECKING, Any, TypedDict

from llmvet.cli.common import add_settings_flags, err, load_policy_or_exit, settings_from
from llmvet.logs import logging_config

if TYPE_CHECKING:
    from llmvet.config import Settings

FIELDS = ("upstream", "policy", "shadow_policy", "policy_watch", "store", "audit_journal", "host", "port")
LOG_FIELDS = ("log_format", "access_log")


# uvicorn's own X-Forwarded-For handling stays off: it would replace the peer address with one a client
# on loopback wrote itself, before llmvet applies LLMVET_TRUSTED_PROXIES to the header (proxy/upstream.py).
PROXY_HEADERS = False


class _ServerOptions(TypedDict):
    """The uvicorn.run() options shared by the one-process and the multi-worker start (typed per key,
    so mypy checks each against uvicorn's signature)."""

    host: str
    port: int
    loop: str
    http: str
    log_level: str
    log_config: dict[str, Any]
    access_log: bool
    timeout_graceful_shutdown: int
    proxy_headers: bool


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the proxy")
    add_settings_flags(p, *FIELDS)
    p.add_argument("--workers", type=int, default=1, help="worker processes (use a redis:// store with more than 1)")
    p.add_argument(
        "--log-format",
        dest="log_format",
        choices=("text", "json"),
        default=None,
        help="text (default) or json: one JSON object per line on stderr (env LLMVET_LOG_FORMAT)",
    )
    p.add_argument(
        "--access-log",
        dest="access_log",
        action="store_const",
        const=True,
        default=None,
        help="log one line per HTTP request (env LLMVET_ACCESS_LOG)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    settings = settings_from(args, *FIELDS, *LOG_FIELDS)
    if not settings.upstream:
        err.print("llmvet: no upstream configured: pass --upstream URL or set LLMVET_UPSTREAM")
        return 2
    log_config = logging_config(settings.log_level, settings.log_format)
    logging.config.dictConfig(log_config)  # here too: messages before uvicorn starts
    logging.captureWarnings(True)  # Python warnings in the same format
    warn = logging.getLogger("llmvet.policy").warning if settings.log_format == "json" else None
    policy = load_policy_or_exit(settings.policy, warn)  # a bad policy stops here, with file:line messages
    if settings.shadow_policy is not None:
        load_policy_or_exit(settings.shadow_policy, warn)  # so does a bad candidate
    common = _ServerOptions(
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        log_level=settings.log_level,
        log_config=log_config,  # applied again by uvicorn in each worker process
        access_log=settings.access_log,
        timeout_graceful_shutdown=10,
        proxy_headers=PROXY_HEADERS,
    )
    # uvicorn re-raises the SIGTERM it shut down for; end with status 0 then (a drained, clean stop).
    signal.signal(signal.SIGTERM, _exit_cleanly)
    from llmvet.proxy import heap

    heap.FREEZE = True  # this process serves: start-up objects leave the collector's way once warm
    if args.workers > 1:
        return _run_workers(settings, args.workers, common)
    from llmvet.proxy.app import create_app
    from llmvet.proxy.otlp import setup_otlp

    setup_otlp()  # only when OTEL_* variables ask for it (workers set it up in app_from_env)
    try:
        app = create_app(settings, policy)
    except ValueError as exc:  # a bad setting of an extension (review, observe): say which, no traceback
        err.print(f"llmvet: {exc}", markup=False)
        return 2
    code = 0
    try:
        uvicorn.run(app, **common)
    except SystemExit as exc:  # uvicorn re-raised the SIGTERM it stopped for (_exit_cleanly)
        code = exc.code if isinstance(exc.code, int) else 1
    # The server has stopped (the audit flushed in its shutdown). A model load still running, say one
    # retrying an unreachable hub with worker threads of its own, is not needed: exit without it.
    from llmvet.resources import exit_now_if_loading

    exit_now_if_loading(code)
    return code


def _run_workers(settings: Settings, workers: int, common: _ServerOptions) -> int:
    import uvicorn

    from llmvet.proxy.drain import GROUP_ENV

    # Workers are separate processes: hand them the resolved settings through the environment.
    for name, value in settings.model_dump(mode="json").items():
        if value is not None:  # unset stays unset (str(None) would be a setting "None")
            os.environ[f"LLMVET_{name.upper()}"] = str(value)
    # One lock file for the workers' drain (proxy/drain.py WorkerGroup): none stops before all drained.
    fd, group = tempfile.mkstemp(prefix="llmvet-workers-", suffix=".lock")
    os.close(fd)
    os.environ[GROUP_ENV] = group
    try:
        uvicorn.run("llmvet.proxy.app:app_from_env", factory=True, workers=workers, **common)
    finally:
        for path in (group, group + ".draining"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
    return 0


def _exit_cleanly(sig: int, frame: object) -> None:
    raise SystemExit(0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run(argparse.Namespace()))
