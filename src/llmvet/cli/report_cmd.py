"""`llmvet report`: the last day's picture per model, read from the store the proxy writes to."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from rich.markup import escape
from rich.table import Table

from llmvet.cli.audit_cmd import store_unreadable
from llmvet.cli.common import add_settings_flags, err, out, settings_from


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="traffic, decisions, findings, refusals, drift and budgets per model")
    add_settings_flags(p, "store", "policy")
    p.add_argument("--hours", type=float, default=24.0, help="how far back to look (default 24)")
    p.add_argument("--model", default=None, help="only this model")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument(
        "--shadow",
        action="store_true",
        help="where the shadow policy decided differently, per rule and finding code (instead of the summary)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from llmvet.observe.drift import DriftConfig, DriftEnv
    from llmvet.observe.report import summarize
    from llmvet.store import open_store

    settings = settings_from(args, "store", "policy")
    if args.hours <= 0:
        err.print("llmvet: --hours must be positive")
        return 2
    if args.shadow:
        return _run_shadow(settings.store, time.time() - args.hours * 3600, args.json)
    limit = _budget_limit(settings.policy) if args.policy else None

    async def collect() -> dict[str, Any]:
        store = await open_store(settings.store)
        try:
            summary = await summarize(
                store,
                hours=args.hours,
                cfg=DriftConfig(**DriftEnv().model_dump()),
                budget_limit=limit,
                model=args.model,
            )
            summary["replicas"] = await _replicas(store, settings.policy_disagree_warn)
            return summary
        finally:
            await store.close()

    try:
        summary = asyncio.run(collect())
    except Exception as exc:
        return store_unreadable(settings.store, exc)
    warn_disagreement(summary["replicas"])
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        render(summary)
    return 0


async def _replicas(store: Any, warn_after: float) -> dict[str, Any]:
    """The live replicas' policy versions (their heartbeats) and for how long they have disagreed."""
    from llmvet.store import serving

    entries = await serving.live(store)
    seconds = serving.disagreement(entries)
    return {
        "serving": serving.versions(entries),
        "disagree_seconds": round(seconds, 1),
        "warn_after_seconds": warn_after,
        "disagree": seconds > warn_after,
    }


def warn_disagreement(replicas: dict[str, Any]) -> None:
    if not replicas["disagree"]:
        return
    which = "; ".join(f"{policy} on {', '.join(ids)}" for policy, ids in replicas["serving"].items())
    err.print(
        f"llmvet: warning: replicas have served different policies for {replicas['disagree_seconds']:.0f} s "
        f"(more than LLMVET_POLICY_DISAGREE_WARN={replicas['warn_after_seconds']:g}): {which}",
        markup=False,
    )


def _run_shadow(store: str, since: float, as_json: bool) -> int:
    from llmvet.cli import shadow_view

    try:
        diff = shadow_view.read(store, since)
    except Exception as exc:
        return store_unreadable(store, exc)
    shadow_view.show(diff, as_json)
    return 0


def _budget_limit(policy_path: Any) -> float | None:
    from llmvet.cli.common import load_policy_or_exit
    from llmvet.observe.extension import budget_limit

    policy = load_policy_or_exit(policy_path)
    return budget_limit([cv.instance for rule in policy.rules for cv in rule.validators])


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


def _share(n: int, total: int) -> str:
    return f"{n} ({n / total:.0%})" if total else str(n)


def _row(t: Table, *cells: str) -> None:
    # Model names, rules and finding codes come from clients and policies: never read them as rich markup
    # ("[/x]" in a model name would crash the report; "[link=…]" would forge output).
    t.add_row(*(escape(c) for c in cells))


def render(s: dict[str, Any]) -> None:
    out.print(f"[bold]llmvet report[/bold]: {_when(s['since'])} – {_when(s['until'])} ({s['hours']:g} h)")
    if not s["models"]:
        out.print("No vetted traffic in this period.")
    for m in s["models"]:
        n = m["requests"]
        t = Table(title=f"[bold]{escape(m['model'])}[/bold]", show_header=False, title_justify="left")
        t.add_column("what", style="bold")
        t.add_column("value", overflow="fold")
        _row(t, "requests", f"{n} (rules: " + ", ".join(f"{r} {c}" for r, c in m["rules"].items()) + ")")
        _row(t, "decisions", ", ".join(f"{a} {_share(c, n)}" for a, c in m["actions"]))
        _row(t, "top findings", ", ".join(f"{code} {_share(c, n)}" for code, c in m["findings"]) or "none")
        _row(t, "refused", ", ".join(f"{cat} {c}" for cat, c in m["refusals"]) or "nothing")
        _row(t, "re-asks / extra tokens", f"{m['reasks']} / {m['extra_tokens']}")
        _row(t, "budget exhausted", str(m["budget_exhausted"]))
        errors = {v: o.get("error", 0) + o.get("timeout", 0) for v, o in m["validators"].items()}
        _row(t, "validator errors", ", ".join(f"{v} {e}" for v, e in errors.items() if e) or "none")
        _row(
            t,
            "avg ms total / upstream / validate",
            f"{m['avg_ms']['total']} / {m['avg_ms']['upstream']} / {m['avg_ms']['validate']}",
        )
        _row(t, "drift", _drift_cell(m))
        out.print(t)
    if s["alerts"]:
        t = Table(title="Drift alerts")
        for col in ("when", "model", "rule", "dimension", "PSI", "p", "what moved"):
            t.add_column(col)
        for a in s["alerts"]:
            moved = ", ".join(f"{k} {v['baseline']:.1%}→{v['current']:.1%}" for k, v in list(a["moved"].items())[:3])
            _row(
                t,
                _when(a["ts"]),
                str(a["model"]),
                str(a["rule"]),
                str(a["dimension"]),
                str(a["psi"]),
                f"{a['p_value']:.2g}",
                moved,
            )
        out.print(t)
    if s["budgets"]:
        t = Table(title="Re-ask token budgets today (UTC)")
        for col in ("key", "used", "limit", "state"):
            t.add_column(col)
        for b in s["budgets"]:
            state = "exhausted" if b["exhausted"] else (f"{b['share']:.0%}" if b["share"] is not None else "-")
            _row(t, b["key"], str(b["used"]), str(b["limit"] if b["limit"] is not None else "-"), state)
        out.print(t)


def _drift_cell(m: dict[str, Any]) -> str:
    shifted, tested = [], 0
    for rule, dims in m["drift"].items():
        for dim, d in dims.items():
            tested += d["tested"]
            if d["alert"]:
                shifted.append(f"{rule}/{dim} PSI {d['psi']}")
    if shifted:
        return "SHIFTED: " + "; ".join(shifted)
    return "stable" if tested else "too few samples"
