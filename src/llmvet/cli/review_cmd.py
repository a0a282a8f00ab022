"""`llmvet review add-reviewer|revoke|list`: manage reviewer tokens (stored hashed in the store);
`llmvet review reindex`: index queue items written by a version without the queue's indexes."""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any, cast

from rich.table import Table

from llmvet import audit
from llmvet.cli.audit_cmd import store_unreadable
from llmvet.cli.common import add_settings_flags, err, out, settings_from
from llmvet.records import AuditRecord


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "review", help="manage reviewers of the escalation queue (/review); export their decisions as test cases"
    )
    rsub = p.add_subparsers(dest="review_command", required=True, metavar="SUBCOMMAND")

    add = rsub.add_parser("add-reviewer", help="create a reviewer (or re-issue their token); prints the token once")
    add.add_argument("name")
    add.add_argument("--role", choices=["reviewer", "admin"], default="reviewer")
    add_settings_flags(add, "store")
    add.set_defaults(run=run_add)

    revoke = rsub.add_parser("revoke", help="revoke a reviewer's token (their sessions end too)")
    revoke.add_argument("name")
    add_settings_flags(revoke, "store")
    revoke.set_defaults(run=run_revoke)

    ls = rsub.add_parser("list", help="list reviewers")
    add_settings_flags(ls, "store")
    ls.set_defaults(run=run_list)

    reindex = rsub.add_parser("reindex", help="index every queue item (after a rolling upgrade from an older version)")
    add_settings_flags(reindex, "store")
    reindex.set_defaults(run=run_reindex)

    from llmvet.cli import review_cases

    review_cases.register(rsub)


async def _with_accounts(url: str, fn: Any) -> Any:
    from llmvet.review.auth import Accounts
    from llmvet.store import open_store

    store = await open_store(url)
    try:
        return await fn(Accounts(store), store)
    finally:
        await store.close()


def run_add(args: argparse.Namespace) -> int:
    from llmvet.review.auth import AuthError

    settings = settings_from(args, "store")

    async def go(accounts: Any, store: Any) -> str:
        token = await accounts.add(args.name, args.role)
        record = {"ts": time.time(), "kind": "reviewer.add", "reviewer": args.name, "role": args.role, "by": "cli"}
        await audit.write_now(store, [cast(AuditRecord, record)])
        return token

    try:
        token = asyncio.run(_with_accounts(settings.store, go))
    except AuthError as exc:
        err.print(f"llmvet: {exc}", markup=False)
        return 2
    except Exception as exc:
        return store_unreadable(settings.store, exc)
    err.print(f"reviewer {args.name} ({args.role}) ready; sign in at /review with this token (shown only once):")
    print(token)
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    settings = settings_from(args, "store")

    async def go(accounts: Any, store: Any) -> bool:
        return await accounts.revoke(args.name, by="cli")

    try:
        revoked = asyncio.run(_with_accounts(settings.store, go))
    except Exception as exc:
        return store_unreadable(settings.store, exc)
    if not revoked:
        err.print(f"llmvet: no active reviewer named {args.name!r}", markup=False)
        return 1
    out.print(f"revoked {args.name}", markup=False)
    return 0


def run_list(args: argparse.Namespace) -> int:
    settings = settings_from(args, "store")
    try:
        reviewers = asyncio.run(_with_accounts(settings.store, lambda a, s: a.list()))
    except Exception as exc:
        return store_unreadable(settings.store, exc)
    table = Table(title="reviewers")
    for col in ("name", "role", "created", "state"):
        table.add_column(col)
    for r in reviewers:
        state = f"revoked {_ts(r['revoked']['at'])} by {r['revoked'].get('by')}" if r.get("revoked") else "active"
        table.add_row(r["name"], r["role"], _ts(r["created"]), state)
    out.print(table)
    return 0


def run_reindex(args: argparse.Namespace) -> int:
    from llmvet.review.indexing import QueueIndex

    settings = settings_from(args, "store")

    async def go(accounts: Any, store: Any) -> int:
        return await QueueIndex(store, keep_seconds=None).reindex()

    try:
        n = asyncio.run(_with_accounts(settings.store, go))
    except Exception as exc:
        return store_unreadable(settings.store, exc)
    out.print(f"indexed {n} review item(s)", markup=False)
    return 0


def _ts(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(t))
