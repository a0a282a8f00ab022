"""The last day's picture per model, from the shared buckets: what `llmvet report` and the dashboard show."""

from __future__ import annotations

import time
from typing import Any

from llmvet.observe import drift as drift_mod
from llmvet.observe import rollup
from llmvet.store import keys
from llmvet.store.base import Store


async def summarize(
    store: Store,
    *,
    hours: float = 24.0,
    now: float | None = None,
    cfg: drift_mod.DriftConfig | None = None,
    budget_limit: float | None = None,
    model: str | None = None,
    top: int = 10,
) -> dict[str, Any]:
    """A JSON-able summary: per model traffic, decisions, findings, refusals, costs, drift; budgets; alerts."""
    now = time.time() if now is None else now
    cfg = cfg or drift_mod.DriftConfig()
    since = now - hours * 3600
    base_start, _ = drift_mod.windows(cfg, now)
    buckets = await rollup.read_buckets(store, min(since, base_start), now, cfg.bucket_seconds)
    recent = {b: g for b, g in buckets.items() if b + cfg.bucket_seconds > since}
    drift = drift_mod.assess(buckets, cfg, now)
    alerts = [a for a in await drift_mod.read_alerts(store, since) if model is None or a.get("model") == model]

    per_model: dict[str, dict[str, Any]] = {}
    for group, counts in rollup.total(recent).items():
        m, rule = rollup.split_group(group)
        if model is not None and m != model:
            continue
        entry = per_model.setdefault(m, {"model": m, "counts": rollup.Counts(), "rules": {}})
        entry["counts"].add(counts)
        entry["rules"][rule] = int(counts.get("n", 0))
    series_step = _series_step(hours, cfg.bucket_seconds)
    models = []
    for m, entry in sorted(per_model.items(), key=lambda kv: -kv[1]["counts"].get("n", 0)):
        models.append(_model_summary(m, entry, recent, drift, alerts, since, now, series_step, top))
    return {
        "since": since,
        "until": now,
        "hours": hours,
        "bucket_seconds": cfg.bucket_seconds,
        "series_step": series_step,
        "drift_config": {k: v for k, v in cfg.model_dump().items() if k != "webhook"},
        "models": models,
        "alerts": alerts,
        "budgets": await budgets(store, budget_limit, now),
    }


def _model_summary(
    m: str,
    entry: dict[str, Any],
    recent: dict[int, Any],
    drift: dict[str, Any],
    alerts: list[dict[str, Any]],
    since: float,
    now: float,
    series_step: int,
    top: int,
) -> dict[str, Any]:
    """One model's row of the summary: traffic, decisions, findings, costs, drift, alerts."""
    c: rollup.Counts = entry["counts"]
    n = int(c.get("n", 0))
    return {
        "model": m,
        "requests": n,
        "rules": entry["rules"],
        "actions": _sorted(rollup.dimension(c, "a:")),
        "statuses": _sorted(rollup.dimension(c, "s:")),
        "findings": _sorted(rollup.dimension(c, "f:"))[:top],
        "refusals": _sorted(rollup.dimension(c, "r:"))[:top],
        "lengths": {k: int(v) for k, v in sorted(rollup.dimension(c, "l:").items(), key=lambda kv: _range_lo(kv[0]))},
        "validators": _validators(c),
        "reasks": int(c.get("reasks", 0)),
        "extra_tokens": int(c.get("tok", 0)),
        "budget_exhausted": int(c.get("budget", 0)),
        "avg_ms": {k: round(c.get(f"ms_{k}", 0) / n, 1) if n else 0.0 for k in ("total", "upstream", "validate")},
        "series": _series(recent, m, since, now, series_step),
        "drift": {rollup.split_group(g)[1]: dims for g, dims in drift.items() if rollup.split_group(g)[0] == m},
        "alerts": [a for a in alerts if a.get("model") == m],
    }


async def budgets(store: Store, limit: float | None, now: float | None = None) -> list[dict[str, Any]]:
    """Today's re-ask token use per key (UTC day), from the consistency validator's counters."""
    day = keys.budget_day(now)
    found = [k for k in await store.keys(keys.BUDGET) if keys.budget_key_parts(k)[1] == day]
    out = []
    for k in found:
        tokens = await read_counter(store, keys.BUDGET, k)
        out.append(
            {
                "key": keys.budget_key_parts(k)[0],
                "day": day,
                "used": int(tokens),
                "limit": limit,
                "exhausted": limit is not None and tokens >= limit,
                "share": round(tokens / limit, 4) if limit else None,
            }
        )
    return sorted(out, key=lambda b: -b["used"])


async def read_counter(store: Store, ns: str, key: str) -> float:
    """A counter's value. `incr` by 0 reads it on both backends (a plain get cannot decode SQLite's
    numeric counters); the TTL only applies if the counter did not exist yet."""
    return float(await store.incr(ns, key, 0, ttl=keys.BUDGET_TTL_SECONDS))


def _sorted(d: dict[str, float]) -> list[list[Any]]:
    return [[k, int(v)] for k, v in sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))]


def _range_lo(r: str) -> int:
    return int(r.split("-")[0].rstrip("+"))


def _validators(c: rollup.Counts) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for k, v in c.items():
        if k.startswith("v:"):
            name, _, outcome = k[2:].rpartition(":")
            out.setdefault(name, {})[outcome] = int(v)
    return dict(sorted(out.items()))


def _series_step(hours: float, bucket_seconds: int) -> int:
    """At most ~48 bars: whole buckets per bar."""
    n = max(1, int(hours * 3600 // bucket_seconds))
    per_bar = max(1, -(-n // 48))
    return per_bar * bucket_seconds


def _series(buckets: rollup.Buckets, model: str, since: float, now: float, step: int) -> list[dict[str, Any]]:
    """Requests per bar, split by action."""
    first = int(since // step) * step
    bars: dict[int, rollup.Counts] = {t: rollup.Counts() for t in range(first, int(now) + 1, step)}
    for b, groups in buckets.items():
        bar = bars.get(int(b // step) * step)
        if bar is None:
            continue
        for g, counts in groups.items():
            if rollup.split_group(g)[0] == model:
                bar.add({k: v for k, v in counts.items() if k.startswith("a:")})
    return [
        {"t": t, "actions": {k[2:]: int(v) for k, v in sorted(c.items())}, "n": int(sum(c.values()))}
        for t, c in sorted(bars.items())
    ]
