"""``report.html``: a self-contained page (SVG charts inline, frame thumbnails as embedded JPEG)."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import cv2
import numpy as np

from edgepose.analyze.draw import id_colour
from edgepose.analyze.sync import GroupSync


def png_b64(img: np.ndarray) -> str:
    ok, buf = cv2.imencode(".png", img)
    if not ok:
        raise ValueError("could not encode a PNG")
    return base64.b64encode(buf.tobytes()).decode("ascii")


def jpg_b64(img: np.ndarray) -> str:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise ValueError("could not encode a JPEG")
    return base64.b64encode(buf.tobytes()).decode("ascii")


def pick_moments(t: np.ndarray, score: np.ndarray, k: int = 3, gap_s: float = 1.0) -> tuple[list[float], list[float]]:
    """Times of the ``k`` best and ``k`` worst group scores, at least ``gap_s`` apart."""
    ok = np.where(np.isfinite(score))[0]

    def pick(order: np.ndarray) -> list[float]:
        out: list[float] = []
        for i in order:
            if all(abs(t[i] - o) >= gap_s for o in out):
                out.append(float(t[i]))
            if len(out) == k:
                break
        return out

    if not len(ok):
        return [], []
    order = ok[np.argsort(score[ok])]
    return pick(order[::-1]), pick(order)


def plots(g: GroupSync) -> dict[str, str]:
    """The report's figures as inline SVG (edgepose/analyze/charts.py)."""
    from edgepose.analyze.charts import ChartSeries, bgr_hex, line_chart_svg, palette

    bands = [(s, e) for n, (s, e, _) in enumerate(g.moves) if n % 2]
    band_label = "every other move shaded" if bands else ""
    cols = palette(len(g.pairs))
    pair_series = [ChartSeries(f"#{p.a} & #{p.b}", g.t, p.score, cols[n], 1.2) for n, p in enumerate(g.pairs)]
    group = ChartSeries("group (all performers)", g.t, g.score, "#000000", 2.6)
    sync = line_chart_svg(pair_series + [group], "Synchronisation over time: each pair and the whole group",
                          "sync score (1 = together)", y_range=(0.0, 1.0), bands=bands, band_label=band_label)
    dev = [ChartSeries(f"#{i}", g.t, d, bgr_hex(id_colour(i)), 1.8) for i, d in g.deviation_deg.items()]
    deviation = line_chart_svg(dev, "How far each performer is from the others (RMS joint-angle difference)",
                               "deviation (deg)", bands=bands, band_label=band_label)
    moves = line_chart_svg([ChartSeries("group angular speed", g.t, g.speed, "#8a3b00", 1.8)],
                           "Group movement speed; moves are cut where it dips deeply", "speed (deg/s)",
                           marks=[s for s, _, _ in g.moves[1:]], mark_label="move boundary")
    return {"sync": sync, "deviation": deviation, "moves": moves}


def write_report(path: Path, title: str, summary: dict, g: GroupSync | None,
                 thumbs: dict[str, list[tuple[float, float, np.ndarray]]], notes: list[str]) -> Path:
    """Write the HTML page. ``thumbs``: ``best``/``worst`` -> [(time, score, BGR image)]."""
    e = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title>",
             "<style>body{font-family:sans-serif;max-width:960px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
             "img{max-width:100%}figure.chart{margin:0 0 1em}figure.chart svg{max-width:100%;height:auto}.thumbs{display:flex;gap:8px;flex-wrap:wrap}.thumbs figure{margin:0;width:300px}"
             "</style></head><body>", f"<h1>{e(title)}</h1>"]
    parts.append("<table>" + "".join(f"<tr><th>{e(str(k))}</th><td>{e(str(v))}</td></tr>" for k, v in summary.items())
                 + "</table>")
    for n in notes:
        parts.append(f"<p><b>Note:</b> {e(n)}</p>")
    if g is not None:
        figs = plots(g)
        parts.append("<h2>Synchronisation over time</h2>")
        parts.append(f"<figure class='chart'>{figs['sync']}</figure>")
        parts.append("<h2>Pairs</h2><table><tr><th>pair</th><th>score</th><th>lag (ms)</th><th>leader</th>"
                     "<th>lag confidence</th><th>score at best lag</th><th>mirrored</th></tr>")
        for p in g.pairs:
            lead = "-" if p.leader is None else f"#{p.leader}"
            parts.append(f"<tr><td>#{p.a} &amp; #{p.b}</td><td>{p.mean:.2f}</td><td>{1000 * p.lag_s:+.0f}</td>"
                         f"<td>{lead}</td><td>{p.lag_corr:.2f}</td><td>{p.aligned_mean:.2f}</td>"
                         f"<td>{100 * p.mirrored:.0f}%</td></tr>")
        parts.append("</table><p>lag &gt; 0: the second performer follows the first.</p>")
        parts.append("<h2>Deviation from the group</h2>")
        parts.append(f"<figure class='chart'>{figs['deviation']}</figure>")
        means = {i: float(np.nanmean(d)) if np.isfinite(d).any() else float("nan") for i, d in g.deviation_deg.items()}
        parts.append("<table><tr><th>performer</th><th>mean deviation (deg)</th></tr>" + "".join(
            f"<tr><td>#{i}</td><td>{m:.1f}</td></tr>" for i, m in means.items()) + "</table>")
        parts.append("<h2>Moves</h2>")
        parts.append(f"<figure class='chart'>{figs['moves']}</figure>")
        parts.append("<table><tr><th>move</th><th>start (s)</th><th>end (s)</th><th>group score</th></tr>" + "".join(
            f"<tr><td>{n + 1}</td><td>{s:.2f}</td><td>{en:.2f}</td><td>{sc:.2f}</td></tr>"
            for n, (s, en, sc) in enumerate(g.moves)) + "</table>")
    for key, label in (("best", "Best moments"), ("worst", "Worst moments")):
        items = thumbs.get(key) or []
        if not items:
            continue
        parts.append(f"<h2>{label}</h2><div class='thumbs'>")
        for t, s, img in items:
            parts.append(f"<figure><img alt='{key} t={t:.2f}s' src='data:image/jpeg;base64,{jpg_b64(img)}'>"
                         f"<figcaption>t = {t:.2f} s, group score {s:.2f}</figcaption></figure>")
        parts.append("</div>")
    parts.append("<p>Method: docs/sync.md. Everything on this page was computed on the device.</p></body></html>")
    path.write_text("\n".join(parts))
    return path
