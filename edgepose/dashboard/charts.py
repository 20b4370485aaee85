"""Server-rendered SVG charts (no JavaScript, no external assets). All text is XML-escaped."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

from markupsafe import Markup

PALETTE = ("#2563eb", "#d97706", "#059669", "#db2777", "#7c3aed", "#0891b2")


@dataclass
class Series:
    label: str
    values: list[float | None]           # one per x position (None = no value there)
    color: str | None = None
    point_colors: list[str | None] | None = None   # bars: a colour per value (e.g. by verdict)


@dataclass
class Ref:
    """A horizontal reference line, e.g. a norm."""

    value: float
    label: str
    color: str = "#dc2626"


@dataclass
class Chart:
    title: str
    x_labels: list[str]
    series: list[Series] = field(default_factory=list)
    unit: str = ""
    refs: list[Ref] = field(default_factory=list)
    width: int = 640
    height: int = 240


def _t(s: object) -> str:
    return escape(str(s), quote=True)


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if not math.isfinite(lo) or not math.isfinite(hi):
        return [0.0, 1.0]
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(1, n)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks, v = [], start
    while v <= hi + step * 0.5:
        ticks.append(round(v, 6))
        v += step
    return ticks


def _fmt(v: float) -> str:
    return f"{v:.0f}" if abs(v - round(v)) < 1e-6 or abs(v) >= 100 else f"{v:.1f}"


def _frame(c: Chart, kind: str) -> tuple[list[str], float, float, float, float, list[float]]:
    vals = [v for s in c.series for v in s.values if v is not None] + [r.value for r in c.refs]
    lo = min([0.0, *vals]) if vals else 0.0
    hi = max(vals) if vals else 1.0
    ticks = nice_ticks(lo, hi * 1.12 if hi > 0 else 1.0)
    left, right, top, bottom = 48.0, 16.0, 44.0, 30.0
    w, h = c.width - left - right, c.height - top - bottom
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {c.width} {c.height}" '
           f'role="img" aria-label="{_t(c.title)}" data-kind="{kind}">',
           f"<title>{_t(c.title)}</title>",
           f'<text class="chart-title" x="{left}" y="18">{_t(c.title)}</text>']
    y0, y1 = ticks[0], ticks[-1]
    for tv in ticks:
        y = top + h - (tv - y0) / (y1 - y0) * h
        out.append(f'<line class="grid" x1="{left}" x2="{left + w}" y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(f'<text class="tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{_t(_fmt(tv))}</text>')
    if c.unit:
        out.append(f'<text class="unit" x="{left - 6}" y="{top - 12}" text-anchor="end">{_t(c.unit)}</text>')
    return out, left, top, w, h, [y0, y1]


def _y(v: float, top: float, h: float, rng: list[float]) -> float:
    return top + h - (v - rng[0]) / (rng[1] - rng[0]) * h


def _x_labels(out: list[str], labels: Sequence[str], xs: list[float], top: float, h: float) -> None:
    n = len(labels)
    if not n:
        return
    step = max(1, math.ceil(n / 8))
    for i in range(0, n, step):
        out.append(f'<text class="tick" x="{xs[i]:.1f}" y="{top + h + 18:.1f}" text-anchor="middle">{_t(labels[i])}</text>')
    if (n - 1) % step:
        out.append(f'<text class="tick" x="{xs[-1]:.1f}" y="{top + h + 18:.1f}" text-anchor="middle">{_t(labels[-1])}</text>')


def _refs(out: list[str], c: Chart, left: float, top: float, w: float, h: float, rng: list[float]) -> None:
    """Dashed reference lines; their labels sit in the header, right-aligned, with a line sample."""
    x = left + w
    for r in c.refs:
        y = _y(r.value, top, h, rng)
        out.append(f'<line class="ref" x1="{left}" x2="{left + w}" y1="{y:.1f}" y2="{y:.1f}" stroke="{_t(r.color)}"/>')
        out.append(f'<text class="ref-label" x="{x:.0f}" y="32" text-anchor="end" fill="{_t(r.color)}">{_t(r.label)}</text>')
        x -= len(r.label) * 6.9 + 6
        out.append(f'<line class="ref" x1="{x - 22:.0f}" x2="{x:.0f}" y1="28" y2="28" stroke="{_t(r.color)}"/>')
        x -= 36


def _legend(out: list[str], c: Chart, left: float) -> None:
    if len(c.series) < 2:
        return
    x = left + 8 + len(c.title) * 7.5 + 16
    for i, s in enumerate(c.series):
        color = s.color or PALETTE[i % len(PALETTE)]
        out.append(f'<rect x="{x:.0f}" y="9" width="10" height="10" rx="2" fill="{_t(color)}"/>')
        out.append(f'<text class="legend" x="{x + 14:.0f}" y="18">{_t(s.label)}</text>')
        x += 14 + len(s.label) * 7 + 18


def line_chart(c: Chart) -> Markup:
    """Lines over the x positions; the highest point of each series is labelled above it."""
    out, left, top, w, h, rng = _frame(c, "line")
    n = max(1, len(c.x_labels))
    xs = [left + (w * (i + 0.5) / n) for i in range(n)]
    _refs(out, c, left, top, w, h, rng)
    for si, s in enumerate(c.series):
        color = s.color or PALETTE[si % len(PALETTE)]
        pts = [(xs[i], _y(v, top, h, rng), v) for i, v in enumerate(s.values[:n]) if v is not None]
        if len(pts) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in pts)
            out.append(f'<polyline class="line" points="{path}" stroke="{_t(color)}"/>')
        for x, y, v in pts:
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{_t(color)}"><title>{_t(_fmt(v))}</title></circle>')
        if pts:
            x, y, v = max(pts, key=lambda p: p[2])
            out.append(f'<text class="max-label" x="{x:.1f}" y="{max(top - 2, y - 9):.1f}" text-anchor="middle" '
                       f'fill="{_t(color)}">{_t(_fmt(v))}</text>')
    _x_labels(out, c.x_labels, xs, top, h)
    _legend(out, c, left)
    out.append("</svg>")
    return Markup("".join(out))


def bar_chart(c: Chart) -> Markup:
    """Grouped bars per x position; each bar carries its value above it."""
    out, left, top, w, h, rng = _frame(c, "bar")
    n = max(1, len(c.x_labels))
    k = max(1, len(c.series))
    slot = w / n
    bw = min(36.0, slot * 0.8 / k)
    xs = [left + slot * (i + 0.5) for i in range(n)]
    base = _y(max(rng[0], 0.0), top, h, rng)
    for si, s in enumerate(c.series):
        color = s.color or PALETTE[si % len(PALETTE)]
        for i, v in enumerate(s.values[:n]):
            if v is None:
                continue
            x = xs[i] - k * bw / 2 + si * bw
            y = _y(v, top, h, rng)
            pc = s.point_colors[i] if s.point_colors and i < len(s.point_colors) else None
            out.append(f'<rect class="bar" x="{x + 1:.1f}" y="{min(y, base):.1f}" width="{bw - 2:.1f}" '
                       f'height="{abs(base - y):.1f}" fill="{_t(pc or color)}"><title>{_t(s.label)}: {_t(_fmt(v))}</title></rect>')
            if bw >= 14:
                out.append(f'<text class="bar-label" x="{x + bw / 2:.1f}" y="{min(y, base) - 4:.1f}" '
                           f'text-anchor="middle">{_t(_fmt(v))}</text>')
    _refs(out, c, left, top, w, h, rng)
    _x_labels(out, c.x_labels, xs, top, h)
    _legend(out, c, left)
    out.append("</svg>")
    return Markup("".join(out))
