"""The analysis report's charts: line charts drawn with matplotlib as inline SVG.

Each chart explains itself: a title, both axis labels outside the plot, round tick values, a
legend below the plot that never runs off the edge, a distinct colour per line, and every shaded
band or vertical mark named in the legend. matplotlib is imported only when a chart is drawn.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Colour-blind-safe qualitative palette (Okabe & Ito), then matplotlib's tab10 beyond it.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
MAX_LEGEND = 12


@dataclass
class ChartSeries:
    """One line: ``y`` over ``t`` (seconds); NaN values leave gaps."""

    label: str
    t: np.ndarray
    y: np.ndarray
    colour: str | None = None  # "#rrggbb"; None: the next palette colour
    width: float = 1.5
    style: str = "-"


def bgr_hex(bgr: Sequence[int]) -> str:
    """An OpenCV BGR colour as ``#rrggbb``."""
    b, g, r = (int(v) for v in bgr[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def palette(n: int) -> list[str]:
    """``n`` distinct colours."""
    out = list(PALETTE[:n])
    if n > len(PALETTE):
        import matplotlib

        tab = matplotlib.colormaps["tab20"]
        out += [_hex(tab(i % 20)) for i in range(n - len(PALETTE))]
    return out


def _hex(rgba: Sequence[float]) -> str:
    return "#" + "".join(f"{int(round(255 * c)):02x}" for c in rgba[:3])


def line_chart_svg(series: list[ChartSeries], title: str, ylabel: str, *, xlabel: str = "time (s)",
                   y_range: tuple[float, float] | None = None,
                   bands: list[tuple[float, float]] | None = None, band_label: str = "",
                   marks: list[float] | None = None, mark_label: str = "",
                   size_in: tuple[float, float] = (9.0, 3.2)) -> str:
    """A line chart as an ``<svg>`` element (no XML header), ready to inline in HTML."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=size_in, dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    handles: list = []
    auto = iter(palette(sum(1 for s in series if s.colour is None)))
    for s in series:
        colour = s.colour or next(auto)
        (line,) = ax.plot(np.asarray(s.t, float), np.asarray(s.y, float), s.style, color=colour,
                          linewidth=s.width, label=s.label)
        handles.append(line)
    for n, (a, b) in enumerate(bands or []):
        ax.axvspan(a, b, color="#000000", alpha=0.06, linewidth=0, zorder=0)
        if n == 0 and band_label:
            handles.append(Patch(facecolor="#000000", alpha=0.12, label=band_label))
    for n, m in enumerate(marks or []):
        v = ax.axvline(m, color="#777777", linewidth=0.8, linestyle=":", zorder=1)
        if n == 0 and mark_label:
            v.set_label(mark_label)
            handles.append(v)
    if y_range is not None:
        ax.set_ylim(*y_range)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
    ax.xaxis.set_major_locator(MaxNLocator(nbins=10, steps=[1, 2, 5, 10]))
    ax.set_title(title, loc="left", fontsize=11)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, color="#dddddd", linewidth=0.6)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if handles:
        shown = handles[:MAX_LEGEND]
        labels = [h.get_label() for h in shown]
        if len(handles) > MAX_LEGEND:
            labels[-1] = f"{labels[-1]} (+{len(handles) - MAX_LEGEND} more, see the tables)"
        ax.legend(shown, labels, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=min(len(shown), 6),
                  frameon=False, fontsize=9, handlelength=1.8, columnspacing=1.4)
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "edgepose", "font.size": 9}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    svg = buf.getvalue()
    return svg[svg.index("<svg"):] if "<svg" in svg else svg


def svg_text(svg: str) -> list[str]:
    """The text strings of an SVG chart (for tests and for checking what a reader sees)."""
    return [t for t in re.findall(r">([^<>]+)</text>", svg) if t.strip()]
