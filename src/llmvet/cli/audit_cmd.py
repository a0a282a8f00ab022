"""`llmvet audit tail|export|shadow`: read the append-only audit stream (automatic and human decisions)."""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from collections import deque
from datetime import UTC, datetime
from typing import Any

import orjson

from llmvet.cli.common import add_settings_flags, err, settings_from
from llmvet.store import keys

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="read the audit log (every decision, automatic and human)")
    asub = p.add_subparsers(dest="audit_command", required=True, metavar="SUBCOMMAND")

    tail = asub.add_parser("tail", help="print the last records (and, with -f, new ones as they come)")
    tail.add_argument("-n", "--lines", type=int, default=20, help="how many records (default 20)")
    tail.add_argument("-f", "--follow", action="store_true", help="keep printing new records")
    tail.add_argument("--kind", help="only records of this kind (e.g. review; vetted responses have none)")
    tail.add_argument("--json", action="store_true", help="one JSON object per line instead of a summary")
    add_settings_flags(tail, "store")
    tail.set_defaults(run=run_tail)

    export = asub.add_parser("export", help="write records since a time as JSON lines")
    export.add_argument(
        "--since", required=True, help="ISO time (2026-01-31 or 2026-01-31T12:00:00Z) or an age like 30m, 24h, 7d"
    )
    export.add_argument("--until", help="same formats as --since (default: now)")
    export.add_argument("--format", choices=["jsonl"], default="jsonl")
    export.add_argument("--kind", help="only records of this kind")
    export.add_argument("-o", "--output", help="file to write (default: standard output)")
    add_settings_flags(export, "store")
    export.set_defaults(run=run_export)

    shadow = asub.add_parser("shadow", help="alias of `llmvet report --shadow` (with --since)")
    shadow.add_argument("--since", default="24h", help="same formats as export --since (default: 24h)")
    shadow.add_argument("--json", action="store_true", help="the comparison as one JSON object")
    add_settings_flags(shadow, "store")
    shadow.set_defaults(run=run_shadow)


def parse_time(value: str, now: float | None = None) -> float:
    """An ISO 8601 date/time (UTC unless it says otherwise) or an age like 90s, 30m, 24h, 7d, 2w."""
    now = time.time() if now is None else now
    m = _DURATION.match(value.strip())
    if m:
        return now - float(m.group(1)) * _UNITS[m.group(2)]
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"cannot read {value!r} as a time: use ISO 8601 (2026-01-31T12:00:00Z) or 30m/24h/7d"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


async def _stream(store: Any, after: str | None = None) -> Any:
    """Yield every (id, record) after `after`, in order; the store has no time index, so this scans."""
    while True:
        batch = await store.read(keys.AUDIT, after, 1000)
        if not batch:
            return
        for rid, rec in batch:
            yield rid, rec
        after = batch[-1][0]


def _wanted(
    rec: dict[str, Any], *, since: float | None = None, until: float | None = None, kind: str | None = None
) -> bool:
    ts = rec.get("ts", 0)
    if since is not None and ts < since:
        return False
    if until is not None and ts > until:
        return False
    return not (kind and rec.get("kind", "response") != kind)


def store_unreadable(url: str, exc: Exception) -> int:
    # An unreachable Redis, an unreadable file: say which, no traceback (credentials cut from the URL).
    err.print(f"llmvet: cannot read the store {url.split('@')[-1]}: {type(exc).__name__}: {exc}", markup=False)
    return 2


def _line(rec: dict[str, Any]) -> str:
    ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(rec.get("ts", 0)))
    kind = rec.get("kind", "response")
    if kind == "review":
        who = rec.get("reviewer") or "-"
        reason = f" reason={rec['reason']!r}" if rec.get("reason") else ""
        return (
            f"{ts} review   {rec.get('request_id')} {rec.get('review_id')} rule={rec.get('rule')} "
            f"action={rec.get('action')} reviewer={who}{reason}"
        )
    if kind == "response":
        return (
            f"{ts} response {rec.get('request_id')} rule={rec.get('rule')} model={rec.get('model')} "
            f"action={rec.get('action')} status={rec.get('status')} "
            f"ms={rec.get('timings_ms', {}).get('total')}"
        )
    extra = " ".join(f"{k}={v}" for k, v in rec.items() if k not in ("ts", "kind") and v not in (None, ""))
    return f"{ts} {kind} {extra}"


def run_tail(args: argparse.Namespace) -> int:
    from llmvet.store import open_store

    settings = settings_from(args, "store")

    def show(rec: dict[str, Any]) -> None:
        print(orjson.dumps(rec).decode() if args.json else _line(rec), flush=True)

    async def go() -> None:
        store = await open_store(settings.store)
        try:
            last: deque[dict[str, Any]] = deque(maxlen=max(args.lines, 0))
            after = None  # the stream position: follow from the last record read, matching or not
            async for rid, rec in _stream(store):
                after = rid
                if _wanted(rec, kind=args.kind):
                    last.append(rec)
            for rec in last:
                show(rec)
            while args.follow:
                await asyncio.sleep(1.0)
                async for rid, rec in _stream(store, after):
                    after = rid
                    if _wanted(rec, kind=args.kind):
                        show(rec)
        finally:
            await store.close()

    try:
        asyncio.run(go())
    except Exception as exc:
        return store_unreadable(settings.store, exc)
    return 0


def run_export(args: argparse.Namespace) -> int:
    from llmvet.store import open_store

    settings = settings_from(args, "store")
    try:
        since = parse_time(args.since)
        until = parse_time(args.until) if args.until else None
    except ValueError as exc:
        err.print(f"llmvet: {exc}", markup=False)
        return 2
    try:
        out = open(args.output, "wb") if args.output else sys.stdout.buffer  # noqa: SIM115 - closed in the finally below
    except OSError as exc:
        err.print(f"llmvet: cannot write {args.output}: {exc.strerror}", markup=False)
        return 2

    async def go() -> int:
        store = await open_store(settings.store)
        n = 0
        try:
            batch: list[dict[str, Any]] = []
            async for _, rec in _stream(store):
                if _wanted(rec, since=since, until=until, kind=args.kind):
                    batch.append(rec)
                if len(batch) >= 1000:
                    n += await _write_with_text(store, batch, out)
                    batch = []
            n += await _write_with_text(store, batch, out)
        finally:
            await store.close()
        return n

    try:
        n = asyncio.run(go())
    except Exception as exc:
        return store_unreadable(settings.store, exc)
    finally:
        if args.output:
            out.close()
        else:
            out.flush()
    err.print(f"exported {n} record(s)")
    return 0


async def _write_with_text(store: Any, records: list[dict[str, Any]], out: Any) -> int:
    """Write records as JSON lines, each with its kept answer text (`text`) when the audit kept it."""
    wanted = [str(r["request_id"]) for r in records if r.get("text_kept") and r.get("request_id")]
    texts = await store.get_many(keys.AUDIT_TEXT, wanted) if wanted else {}
    for rec in records:
        text = texts.get(str(rec.get("request_id"))) if rec.get("text_kept") else None
        out.write(orjson.dumps({**rec, "text": text} if text is not None else rec) + b"\n")
    return len(records)


def run_shadow(args: argparse.Namespace) -> int:
    """`audit shadow`: the same diff as `llmvet report --shadow` (kept as an alias)."""
    from llmvet.cli import shadow_view

    settings = settings_from(args, "store")
    try:
        since = parse_time(args.since)
    except ValueError as exc:
        err.print(f"llmvet: {exc}", markup=False)
        return 2
    try:
        diff = shadow_view.read(settings.store, since)
    except Exception as exc:
        return store_unreadable(settings.store, exc)
    shadow_view.show(diff, args.json)
    return 0
