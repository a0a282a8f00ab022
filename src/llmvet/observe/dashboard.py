"""The dashboard page: the report's summary drawn as server-rendered SVG charts (no JavaScript, no build)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

ACTION_COLORS = {
    "allow": "#3a9d5d",
    "annotate": "#e0b000",
    "append": "#d88a00",
    "reask": "#7b61c9",
    "escalate": "#2f7fc1",
    "block": "#c8423b",
    "upstream_error": "#777777",
}
OTHER_COLOR = "#999999"

_env = Environment(
    loader=FileSystemLoader(str(Path(__file__).parent / "templates")),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["when"] = lambda ts: time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))
_env.filters["pct"] = lambda x: f"{x:.1%}"


def color(action: str) -> str:
    return ACTION_COLORS.get(action, OTHER_COLOR)


def stacked_bars(series: list[dict[str, Any]], width: int = 720, height: int = 160) -> Markup:
    """Requests per time bar, stacked by action."""
    top = max((s["n"] for s in series), default=0) or 1
    pad_l, pad_b = 36, 18
    w = (width - pad_l) / max(1, len(series))
    parts = [
        f'<svg class="chart" role="img" aria-label="requests over time" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        f'<text x="0" y="10" class="axis">{top}</text><text x="0" y="{height - pad_b}" class="axis">0</text>',
        f'<line x1="{pad_l}" y1="{height - pad_b}" x2="{width}" y2="{height - pad_b}" class="base"/>',
    ]
    scale = (height - pad_b - 4) / top
    for i, s in enumerate(series):
        x = pad_l + i * w
        y = height - pad_b
        for action, n in s["actions"].items():
            h = n * scale
            y -= h
            label = escape(f"{time.strftime('%H:%M', time.gmtime(s['t']))} {action}: {n}")
            parts.append(
                f'<rect class="bar" data-action="{escape(action)}" x="{x + 1:.1f}" y="{y:.1f}" '
                f'width="{max(1.0, w - 2):.1f}" height="{h:.1f}" fill="{color(action)}"><title>{label}</title></rect>'
            )
    for i, anchor in ((0, "start"), (len(series) // 2, "middle"), (len(series) - 1, "end")) if series else ():
        t = time.strftime("%H:%M", time.gmtime(series[i]["t"]))
        x = pad_l + i * w + (w if anchor == "end" else w / 2 if anchor == "middle" else 0)
        parts.append(f'<text x="{x:.1f}" y="{height - 4}" text-anchor="{anchor}" class="axis">{t}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def hbars(items: list[list[Any]], total: int | None = None, width: int = 340, colors: bool = False) -> Markup:
    """Horizontal bars: [[label, count], ...]; shares of `total` when given."""
    if not items:
        return Markup('<p class="empty">none</p>')
    row, label_w = 20, 150
    top = max(n for _, n in items) or 1
    height = row * len(items) + 4
    parts = [
        f'<svg class="chart hbars" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, (label, n) in enumerate(items):
        y = i * row + 2
        bw = (width - label_w - 70) * n / top
        share = f" ({n / total:.0%})" if total else ""
        fill = color(str(label)) if colors else "#4a78b0"
        parts.append(
            f'<text x="0" y="{y + 13}" class="label">{escape(str(label)[:24])}</text>'
            f'<rect class="hbar" x="{label_w}" y="{y + 2}" width="{max(1.0, bw):.1f}" height="{row - 6}" '
            f'fill="{fill}"><title>{escape(str(label))}: {n}</title></rect>'
            f'<text x="{label_w + bw + 4:.1f}" y="{y + 13}" class="value">{n}{share}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def gauge(value: float, threshold: float, width: int = 120) -> Markup:
    """A PSI bar with the alert threshold marked."""
    full = max(threshold * 2, value, 1e-9)
    w = width * min(value, full) / full
    tx = width * threshold / full
    fill = "#c8423b" if value >= threshold else "#3a9d5d"
    return Markup(
        f'<svg class="gauge" width="{width}" height="12" viewBox="0 0 {width} 12" '
        f'xmlns="http://www.w3.org/2000/svg"><rect width="{width}" height="12" fill="#eee"/>'
        f'<rect width="{w:.1f}" height="12" fill="{fill}"/>'
        f'<line x1="{tx:.1f}" y1="0" x2="{tx:.1f}" y2="12" stroke="#333"/></svg>'
    )


_env.globals.update(stacked_bars=stacked_bars, hbars=hbars, gauge=gauge, color=color)


def render(summary: dict[str, Any]) -> str:
    return _env.get_template("dashboard.html").render(s=summary, now=time.time())
