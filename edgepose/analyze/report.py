"""``report.html``: a self-contained page (PNG plots drawn with OpenCV, embedded as base64)."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edgepose.analyze.draw import id_colour
from edgepose.analyze.sync import GroupSync


@dataclass
class Series:
    label: str
    t: np.ndarray
    y: np.ndarray
    colour: tuple[int, int, int]
    thick: int = 1


def line_plot(series: list[Series], title: str, ylabel: str, y_range: tuple[float, float] | None = None,
              size: tuple[int, int] = (900, 300), bands: list[tuple[float, float]] | None = None,
              marks: list[float] | None = None) -> np.ndarray:
    """A line chart as a BGR image: axes, ticks, legend; NaN values leave gaps."""
    w, h = size
    img = np.full((h, w, 3), 255, np.uint8)
    left, right, top, bottom = 60, 20, 30, 35
    pw, ph = w - left - right, h - top - bottom
    ts = [s.t for s in series if len(s.t)]
    t0 = min(float(t.min()) for t in ts) if ts else 0.0
    t1 = max(float(t.max()) for t in ts) if ts else 1.0
    t1 = t1 if t1 > t0 else t0 + 1.0
    if y_range is None:
        ys = [s.y[np.isfinite(s.y)] for s in series]
        ys = [y for y in ys if len(y)]
        lo = min(float(y.min()) for y in ys) if ys else 0.0
        hi = max(float(y.max()) for y in ys) if ys else 1.0
        y_range = (min(0.0, lo), hi if hi > lo else lo + 1.0)
    y0, y1 = y_range
    X = lambda t: left + (np.asarray(t) - t0) / (t1 - t0) * pw  # noqa: E731
    Y = lambda y: top + ph - (np.asarray(y) - y0) / (y1 - y0) * ph  # noqa: E731
    for a, b in bands or []:
        cv2.rectangle(img, (int(X(a)), top), (int(X(b)), top + ph), (235, 235, 235), -1)
    font = cv2.FONT_HERSHEY_SIMPLEX
    for k in range(6):
        yv = y0 + (y1 - y0) * k / 5
        yy = int(Y(yv))
        cv2.line(img, (left, yy), (left + pw, yy), (220, 220, 220), 1)
        label = f"{yv:.0f}" if y1 - y0 >= 10 else f"{yv:.2f}"
        cv2.putText(img, label, (5, yy + 4), font, 0.4, (80, 80, 80), 1, cv2.LINE_AA)
    step = _nice_step((t1 - t0) / 8)
    tv = np.ceil(t0 / step) * step
    while tv <= t1 + 1e-9:
        xx = int(X(tv))
        cv2.line(img, (xx, top + ph), (xx, top + ph + 4), (80, 80, 80), 1)
        cv2.putText(img, f"{tv:g}", (xx - 10, top + ph + 18), font, 0.4, (80, 80, 80), 1, cv2.LINE_AA)
        tv += step
    for m in marks or []:
        cv2.line(img, (int(X(m)), top), (int(X(m)), top + ph), (150, 150, 150), 1)
    cv2.rectangle(img, (left, top), (left + pw, top + ph), (80, 80, 80), 1)
    for s in series:
        x, y = X(s.t), Y(np.clip(s.y, y0, y1))
        ok = np.isfinite(s.y)
        for i in range(1, len(x)):
            if ok[i] and ok[i - 1]:
                cv2.line(img, (int(x[i - 1]), int(y[i - 1])), (int(x[i]), int(y[i])), s.colour, s.thick, cv2.LINE_AA)
    cv2.putText(img, title, (left, 20), font, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, f"{ylabel} / time (s)", (left + 4, top + ph - 6), font, 0.4, (80, 80, 80), 1, cv2.LINE_AA)
    lx = left + cv2.getTextSize(title, font, 0.55, 1)[0][0] + 20
    for s in series[:10]:
        cv2.line(img, (lx, 15), (lx + 18, 15), s.colour, 2)
        cv2.putText(img, s.label, (lx + 22, 19), font, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
        lx += 30 + 8 * len(s.label)
    return img


def _nice_step(x: float) -> float:
    if x <= 0:
        return 1.0
    e = 10 ** np.floor(np.log10(x))
    for m in (1, 2, 5, 10):
        if x <= m * e:
            return float(m * e)
    return float(10 * e)


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


def plots(g: GroupSync) -> dict[str, np.ndarray]:
    """The report's figures."""
    pair_series = [Series(f"{p.a}-{p.b}", g.t, p.score, (190, 190, 190)) for p in g.pairs]
    group = Series("group", g.t, g.score, (40, 40, 200), 2)
    bands = [(s, e) for n, (s, e, _) in enumerate(g.moves) if n % 2]
    sync_img = line_plot(pair_series + [group], "Synchronisation over time (pairs grey, group red)", "score",
                         (0.0, 1.0), bands=bands)
    dev = [Series(f"#{i}", g.t, d, id_colour(i), 2) for i, d in g.deviation_deg.items()]
    dev_img = line_plot(dev, "Deviation of each performer from the others (RMS joint angle)", "deg", bands=bands)
    speed_img = line_plot([Series("speed", g.t, g.speed, (120, 60, 0), 2)],
                          "Group angular speed and moves (cuts at deep minima)", "deg/s",
                          marks=[s for s, _, _ in g.moves[1:]])
    return {"sync": sync_img, "deviation": dev_img, "moves": speed_img}


def write_report(path: Path, title: str, summary: dict, g: GroupSync | None,
                 thumbs: dict[str, list[tuple[float, float, np.ndarray]]], notes: list[str]) -> Path:
    """Write the HTML page. ``thumbs``: ``best``/``worst`` -> [(time, score, BGR image)]."""
    e = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title>",
             "<style>body{font-family:sans-serif;max-width:960px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
             "img{max-width:100%}.thumbs{display:flex;gap:8px;flex-wrap:wrap}.thumbs figure{margin:0;width:300px}"
             "</style></head><body>", f"<h1>{e(title)}</h1>"]
    parts.append("<table>" + "".join(f"<tr><th>{e(str(k))}</th><td>{e(str(v))}</td></tr>" for k, v in summary.items())
                 + "</table>")
    for n in notes:
        parts.append(f"<p><b>Note:</b> {e(n)}</p>")
    if g is not None:
        figs = plots(g)
        parts.append("<h2>Synchronisation over time</h2>")
        parts.append(f"<img alt='sync over time' src='data:image/png;base64,{png_b64(figs['sync'])}'>")
        parts.append("<h2>Pairs</h2><table><tr><th>pair</th><th>score</th><th>lag (ms)</th><th>leader</th>"
                     "<th>lag confidence</th><th>score at best lag</th><th>mirrored</th></tr>")
        for p in g.pairs:
            lead = "-" if p.leader is None else f"#{p.leader}"
            parts.append(f"<tr><td>#{p.a} &amp; #{p.b}</td><td>{p.mean:.2f}</td><td>{1000 * p.lag_s:+.0f}</td>"
                         f"<td>{lead}</td><td>{p.lag_corr:.2f}</td><td>{p.aligned_mean:.2f}</td>"
                         f"<td>{100 * p.mirrored:.0f}%</td></tr>")
        parts.append("</table><p>lag &gt; 0: the second performer follows the first.</p>")
        parts.append("<h2>Deviation from the group</h2>")
        parts.append(f"<img alt='deviation' src='data:image/png;base64,{png_b64(figs['deviation'])}'>")
        means = {i: float(np.nanmean(d)) if np.isfinite(d).any() else float("nan") for i, d in g.deviation_deg.items()}
        parts.append("<table><tr><th>performer</th><th>mean deviation (deg)</th></tr>" + "".join(
            f"<tr><td>#{i}</td><td>{m:.1f}</td></tr>" for i, m in means.items()) + "</table>")
        parts.append("<h2>Moves</h2>")
        parts.append(f"<img alt='moves' src='data:image/png;base64,{png_b64(figs['moves'])}'>")
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
