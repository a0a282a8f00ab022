"""Drift: has the mix of outcomes of a model (under a policy rule) changed against its recent past?

For each (model, rule) group and each dimension — the decision, the primary finding (or `none`), the
answer length range — the current window (the last `window_buckets` buckets, the open one included)
is compared with the baseline window (the `baseline_buckets` before it) by Pearson's chi-square test
on the 2×K contingency table. An alert needs all of: at least `min_samples` responses in both
windows, p below `alpha` (divided by the number of dimensions tested), and a population stability
index of at least `psi_threshold` (so a tiny but "significant" shift on a huge sample stays quiet).

Alerts become a metric, a log line, a record in the store's "alerts" stream and, optionally, a
webhook POST. One alert per (group, dimension) per window length, whichever replica sees it first.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from llmvet import audit
from llmvet.observe import rollup
from llmvet.records import AuditRecord
from llmvet.store import keys
from llmvet.store.base import Store

log = logging.getLogger("llmvet.drift")

ALERTS_STREAM = keys.ALERTS
STATUS_KEY = "drift-status"
DIMENSIONS = {"decision": "a:", "finding": "p:", "length": "l:"}


class DriftConfig(BaseModel):
    """Drift settings, read from LLMVET_DRIFT_* variables (`DriftEnv`). A policy has no `drift:` block:
    its schema rejects unknown top-level keys."""

    model_config = ConfigDict(extra="forbid")

    bucket_seconds: int = Field(300, ge=1, description="granularity of the stored counts")
    window_buckets: int = Field(12, ge=1, description="current window length, in buckets (default 1 h)")
    baseline_buckets: int = Field(
        72, ge=1, description="baseline window length, in buckets, just before the current one"
    )
    min_samples: int = Field(200, ge=10, description="fewest responses in each window before testing")
    alpha: float = Field(1e-4, gt=0, lt=1, description="chi-square p-value below which a shift is significant")
    psi_threshold: float = Field(0.1, ge=0, description="population stability index a shift must reach")
    dimensions: list[str] = Field(default_factory=lambda: list(DIMENSIONS), description="decision | finding | length")
    check_interval: float = Field(30.0, gt=0, description="seconds between evaluations")
    webhook: str | None = Field(None, description="URL that receives each alert as a JSON POST")

    @field_validator("dimensions")
    @classmethod
    def _known_dimensions(cls, v: list[str]) -> list[str]:
        unknown = [d for d in v if d not in DIMENSIONS]
        if unknown:
            raise ValueError(f"unknown drift dimension(s) {unknown}; choose from {list(DIMENSIONS)}")
        return v

    @property
    def window_seconds(self) -> int:
        return self.window_buckets * self.bucket_seconds


class DriftEnv(BaseSettings, DriftConfig):
    model_config = SettingsConfigDict(env_prefix="LLMVET_DRIFT_", extra="ignore")


# ---- statistics ------------------------------------------------------------------------------------------
def chi2_sf(x: float, dof: int) -> float:
    """P(X >= x) for X ~ chi-square(dof): the regularized upper incomplete gamma Q(dof/2, x/2)."""
    if x <= 0 or dof <= 0:
        return 1.0
    a, z = dof / 2.0, x / 2.0
    log_front = -z + a * math.log(z) - math.lgamma(a)
    if z < a + 1:  # series for the lower function P, then Q = 1 - P
        term = total = 1.0 / a
        ap = a
        for _ in range(1000):
            ap += 1
            term *= z / ap
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(log_front))
    # Lentz's continued fraction for Q
    tiny = 1e-300
    b = z + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 1000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = d if abs(d) > tiny else tiny
        c = b + an / c
        c = c if abs(c) > tiny else tiny
        d = 1 / d
        h *= d * c
        if abs(d * c - 1) < 1e-15:
            break
    return min(1.0, math.exp(log_front) * h)


@dataclass
class Comparison:
    n_baseline: int
    n_current: int
    chi2: float = 0.0
    dof: int = 0
    p_value: float = 1.0
    psi: float = 0.0
    tested: bool = False  # False when a window had too few samples
    baseline: dict[str, float] = field(default_factory=dict)  # shares
    current: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_baseline": self.n_baseline,
            "n_current": self.n_current,
            "chi2": round(self.chi2, 3),
            "dof": self.dof,
            "p_value": self.p_value,
            "psi": round(self.psi, 4),
            "tested": self.tested,
            "baseline": {k: round(v, 4) for k, v in self.baseline.items()},
            "current": {k: round(v, 4) for k, v in self.current.items()},
        }


def compare(baseline: dict[str, float], current: dict[str, float], min_samples: int) -> Comparison:
    """Chi-square test of homogeneity and PSI between two category-count dicts."""
    nb, nc = sum(baseline.values()), sum(current.values())
    cats = sorted(set(baseline) | set(current))
    out = Comparison(int(nb), int(nc))
    if nb:
        out.baseline = {k: baseline.get(k, 0) / nb for k in cats}
    if nc:
        out.current = {k: current.get(k, 0) / nc for k in cats}
    if nb < min_samples or nc < min_samples:
        return out
    out.tested = True
    n = nb + nc
    # Pool rare categories (expected count under 5 in either row) so the chi-square approximation holds.
    rows: list[tuple[float, float]] = []
    rare_b = rare_c = 0.0
    for k in cats:
        b, c = baseline.get(k, 0), current.get(k, 0)
        if (b + c) * min(nb, nc) / n < 5:
            rare_b += b
            rare_c += c
        else:
            rows.append((b, c))
    if rare_b + rare_c > 0:
        rows.append((rare_b, rare_c))
    if len(rows) >= 2:
        chi2 = 0.0
        for b, c in rows:
            col = b + c
            eb, ec = col * nb / n, col * nc / n
            chi2 += (b - eb) ** 2 / eb + (c - ec) ** 2 / ec
        out.chi2, out.dof = chi2, len(rows) - 1
        out.p_value = chi2_sf(chi2, out.dof)
    # PSI with half-count smoothing so an empty category does not make it infinite.
    n_cats = len(cats)
    for cat in cats:
        pb = (baseline.get(cat, 0) + 0.5) / (nb + 0.5 * n_cats)
        pc = (current.get(cat, 0) + 0.5) / (nc + 0.5 * n_cats)
        out.psi += (pc - pb) * math.log(pc / pb)
    return out


def is_alert(cmp: Comparison, cfg: DriftConfig) -> bool:
    alpha = cfg.alpha / max(1, len(cfg.dimensions))  # Bonferroni over the dimensions tested together
    return cmp.tested and cmp.p_value < alpha and cmp.psi >= cfg.psi_threshold


def windows(cfg: DriftConfig, now: float) -> tuple[float, float]:
    """(baseline start, current start): the current window ends with the open bucket."""
    bs = cfg.bucket_seconds
    current_start = int(now // bs) * bs - (cfg.window_buckets - 1) * bs
    return current_start - cfg.baseline_buckets * bs, current_start


def assess(buckets: rollup.Buckets, cfg: DriftConfig, now: float) -> dict[str, dict[str, dict[str, Any]]]:
    """group -> dimension -> comparison (with "alert"), from stored buckets covering both windows."""
    base_start, cur_start = windows(cfg, now)
    base = rollup.total({b: g for b, g in buckets.items() if base_start <= b < cur_start})
    cur = rollup.total({b: g for b, g in buckets.items() if cur_start <= b <= now})
    status: dict[str, dict[str, dict[str, Any]]] = {}
    for group in sorted(set(base) | set(cur)):
        status[group] = {}
        for dim in cfg.dimensions:
            prefix = DIMENSIONS[dim]
            cmp = compare(
                rollup.dimension(base.get(group, rollup.Counts()), prefix),
                rollup.dimension(cur.get(group, rollup.Counts()), prefix),
                cfg.min_samples,
            )
            status[group][dim] = {**cmp.to_dict(), "alert": is_alert(cmp, cfg)}
    return status


# ---- the detector ------------------------------------------------------------------------------------------
AlertSink = Callable[[dict[str, Any]], Awaitable[None] | None]


class DriftDetector:
    """Evaluates every group's windows from the shared buckets; raises alerts through `sinks`."""

    def __init__(
        self, store: Store, rollup_: rollup.Rollup, cfg: DriftConfig, sinks: list[AlertSink] | None = None
    ) -> None:
        self.store = store
        self.rollup = rollup_
        self.cfg = cfg
        self.sinks = sinks or []
        self.status: dict[str, dict[str, dict[str, Any]]] = {}  # group -> dimension -> comparison

    async def evaluate(self, now: float | None = None) -> list[dict[str, Any]]:
        """Compare the windows of every group; returns the alerts raised by this call."""
        now = time.time() if now is None else now
        base_start, cur_start = windows(self.cfg, now)
        buckets = await self.rollup.read(base_start, now)
        status = assess(buckets, self.cfg, now)
        alerts: list[dict[str, Any]] = []
        for group, dims in status.items():
            for dim, st in dims.items():
                if st["alert"] and await self._first(group, dim):
                    alerts.append(self._alert(group, dim, st, now, cur_start))
        self.status = status
        await self.store.set(
            rollup.NAMESPACE,
            STATUS_KEY,
            {"evaluated_at": now, "groups": status},
            ttl=max(3600.0, 10 * self.cfg.check_interval),
        )
        for a in alerts:
            await self._raise(a)
        return alerts

    async def _first(self, group: str, dim: str) -> bool:
        """True for the first replica to see this shift (one alert per window length)."""
        return await self.store.add(keys.DRIFT, f"alerted:{group}:{dim}", time.time(), ttl=self.cfg.window_seconds)

    def _alert(self, group: str, dim: str, st: dict[str, Any], now: float, cur_start: float) -> dict[str, Any]:
        model, rule = rollup.split_group(group)
        cur, base = st["current"], st["baseline"]
        moved = sorted(cur, key=lambda k: abs(cur.get(k, 0) - base.get(k, 0)), reverse=True)
        return {
            "type": "drift_alert",
            "ts": now,
            "model": model,
            "rule": rule,
            "dimension": dim,
            "p_value": st["p_value"],
            "psi": st["psi"],
            "chi2": st["chi2"],
            "dof": st["dof"],
            "n_baseline": st["n_baseline"],
            "n_current": st["n_current"],
            "window": {
                "current_start": cur_start,
                "bucket_seconds": self.cfg.bucket_seconds,
                "window_buckets": self.cfg.window_buckets,
                "baseline_buckets": self.cfg.baseline_buckets,
            },
            "moved": {k: {"baseline": base.get(k, 0), "current": cur.get(k, 0)} for k in moved[:5]},
        }

    async def _raise(self, alert: dict[str, Any]) -> None:
        top = ", ".join(f"{k} {v['baseline']:.1%}→{v['current']:.1%}" for k, v in list(alert["moved"].items())[:3])
        log.warning(
            "drift alert: model %s rule %s %s mix shifted (PSI %.3f, p=%.2g, n=%d vs %d): %s",
            alert["model"],
            alert["rule"],
            alert["dimension"],
            alert["psi"],
            alert["p_value"],
            alert["n_current"],
            alert["n_baseline"],
            top,
        )
        try:
            await self.store.append(ALERTS_STREAM, [alert])  # read by the report and the dashboard
            # `llmvet audit tail --kind drift_alert`
            await audit.write_now(self.store, [cast(AuditRecord, {**alert, "kind": "drift_alert"})])
        except Exception:
            log.exception("could not store the drift alert")
        for sink in self.sinks:
            try:
                result = sink(alert)
                if result is not None:
                    await result
            except Exception:
                log.exception("drift alert sink failed")


async def read_alerts(store: Store, since: float = 0.0, limit: int = 10_000) -> list[dict[str, Any]]:
    """Alerts from the store's alert stream raised at or after `since` (oldest first)."""
    out: list[dict[str, Any]] = []
    after = None
    while len(out) < limit:
        rows = await store.read(ALERTS_STREAM, after, 1000)
        if not rows:
            break
        after = rows[-1][0]
        out.extend(r for _, r in rows if r.get("ts", 0) >= since)
    return out[-limit:]
