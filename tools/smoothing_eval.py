#!/usr/bin/env python3
"""How the One Euro keypoint filter trades jitter for lag, on real footage.

The engine runs once per clip with smoothing off (the filter only shapes the output: the next ROI
comes from the raw landmarks), so the filter can be evaluated offline on the same raw streams:

- **accuracy**: mean OKS of the tracked, smoothed poses against the annotated Bonn frames
  (``../shared/data/tracking``; a missed person counts 0), against the raw poses' OKS;
- **jitter**: mean second difference of the body keypoints over consecutive frames, in body sizes,
  smoothed / raw, over every clip in ``exercise/`` and ``video/`` (lower is steadier);
- **range of motion kept**: the 2nd-98th percentile range of knee, elbow and hip angles,
  smoothed / raw, per clip and joint where the range exceeds 20 degrees (lag flattens extremes).

Usage, from the repo root::

    .venv/bin/python tools/smoothing_eval.py [--params 1.0,40,1.0 1.5,8,1.0 ...] [--legacy]

``--params`` are ``min_cutoff,beta,d_cutoff`` triples (default: the filter's defaults);
``--legacy`` also scores the filter as it was before 2026-11-24 (positions divided by the body's
size, speed estimate starting from zero).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT / ".." / "shared" / "data"
SHARED_TOOLS = ROOT / ".." / "shared" / "tools"
BODY = slice(11, 29)
JOINTS = {"left knee": (23, 25, 27), "right knee": (24, 26, 28), "left elbow": (11, 13, 15),
          "right elbow": (12, 14, 16), "left hip": (11, 23, 25), "right hip": (12, 24, 26)}

Stream = list[list[tuple[int, np.ndarray]]]  # per frame: (track hint, (33, 3) keypoints)


class LegacyOneEuro:
    """The filter before 2026-11-24, for comparison: positions divided by the body's size, the
    speed estimate starting from zero."""

    def __init__(self, min_cutoff: float = 1.5, beta: float = 8.0, d_cutoff: float = 1.0):
        self.mc, self.beta, self.dc = min_cutoff, beta, d_cutoff
        self.x: np.ndarray | None = None

    @staticmethod
    def _a(cut, dt):
        return 1.0 / (1.0 + 1.0 / (2 * math.pi * cut * dt))

    def __call__(self, x: np.ndarray, t: float, scale: float = 1.0) -> np.ndarray:
        xs = np.asarray(x, float) / max(scale, 1e-6)
        if self.x is None:
            self.x, self.dx, self.t = xs, np.zeros_like(xs), t
            return np.asarray(x, float)
        dt, self.t = t - self.t, t
        self.dx = self._a(self.dc, dt) * (xs - self.x) / dt + (1 - self._a(self.dc, dt)) * self.dx
        a = self._a(self.mc + self.beta * np.abs(self.dx), dt)
        self.x = a * xs + (1 - a) * self.x
        return self.x * scale


def raw_streams() -> dict[str, tuple[float, Stream]]:
    """Every clip, and the Bonn frames (25 fps), through the engine with smoothing off."""
    from edgepose.inference.engine import EngineConfig, PoseEngine

    out: dict[str, tuple[float, Stream]] = {}
    for clip in sorted((DATA / "exercise").glob("*.mp4")) + sorted((DATA / "video").glob("*.mp4")):
        cap = cv2.VideoCapture(str(clip))
        fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
        eng = PoseEngine(EngineConfig(max_people=1, smoothing=False))
        rows: Stream = []
        while True:
            ok, img = cap.read()
            if not ok:
                break
            rows.append([(p.track_hint, p.keypoints.copy()) for p in eng.process(img, len(rows) / fps)])
        out[clip.name] = (fps, rows)
    return out


def bonn() -> tuple[dict, list[int], Stream]:
    from edgepose.inference.engine import EngineConfig, PoseEngine

    sys.path.insert(0, str(SHARED_TOOLS.resolve()))
    import coco_eval  # noqa: E402

    f = DATA / "tracking" / "bonn_060470979" / "annotations.json"
    g = coco_eval.normalise_gt(json.loads(f.read_text()))[0]
    ims = sorted(g["images"], key=lambda im: im["file_name"])
    eng = PoseEngine(EngineConfig(max_people=8, smoothing=False))
    rows: Stream = []
    for i, im in enumerate(ims):
        poses = eng.process(cv2.imread(str(f.parent / im["file_name"])), i / 25.0)
        rows.append([(p.track_hint, p.keypoints.copy()) for p in poses])
    return g, [im["id"] for im in ims], rows


def smooth(rows: Stream, fps: float, make: Callable | None) -> Stream:
    from edgepose.inference.engine import _pose_scale

    if make is None:
        return rows
    filters: dict[int, object] = {}
    out: Stream = []
    for i, frame in enumerate(rows):
        seen = {h for h, _ in frame}
        for h in list(filters):
            if h not in seen:
                del filters[h]  # a track that ends starts afresh, as in the engine
        res = []
        for h, kp in frame:
            k = kp.copy()
            k[:, :2] = filters.setdefault(h, make())(kp[:, :2], i / fps, _pose_scale(kp))
            res.append((h, k))
        out.append(res)
    return out


def jitter(rows: Stream) -> float:
    from edgepose.inference.engine import _pose_scale

    vals = []
    for i in range(2, len(rows)):
        a, b, c = dict(rows[i - 2]), dict(rows[i - 1]), dict(rows[i])
        for h in c:
            if h in a and h in b:
                d = c[h][BODY, :2] - 2 * b[h][BODY, :2] + a[h][BODY, :2]
                vals.append(float(np.mean(np.linalg.norm(d, axis=1))) / _pose_scale(c[h]))
    return float(np.mean(vals)) if vals else 0.0


def _angle(k: np.ndarray, a: int, b: int, c: int) -> float:
    v1, v2 = k[a, :2] - k[b, :2], k[c, :2] - k[b, :2]
    cos = np.dot(v1, v2) / (np.linalg.norm(v1) * np.linalg.norm(v2) + 1e-9)
    return float(np.degrees(np.arccos(np.clip(cos, -1, 1))))


def ranges(rows: Stream) -> dict[str, float]:
    out = {}
    for j, (a, b, c) in JOINTS.items():
        v = [_angle(fr[0][1], a, b, c) for fr in rows if fr]
        if v:
            out[j] = float(np.percentile(v, 98) - np.percentile(v, 2))
    return out


def bonn_oks(g: dict, ids: list[int], rows: Stream) -> float:
    from edgepose.pose import Pose

    sys.path.insert(0, str(SHARED_TOOLS.resolve()))
    import check_contracts as cc  # noqa: E402

    scores: list[float] = []
    for i, frame in enumerate(rows):
        anns = [a for a in g["annotations"] if a["image_id"] == ids[i]]
        preds = [np.asarray(Pose(k, 1.0).to_json()["coco17"], float) for _, k in frame]
        m = cc.greedy_matches(anns, preds, [1.0] * len(preds), 0.1)
        scores += [o for _, _, o in m] + [0.0] * (len(anns) - len(m))
    return float(np.mean(scores))


def evaluate(name: str, make: Callable | None, clips, g, ids, bonn_rows) -> dict:
    jit, rom = [], []
    for fps, rows in clips.values():
        sm = smooth(rows, fps, make)
        jit.append(jitter(sm) / jitter(rows))
        r0, r1 = ranges(rows), ranges(sm)
        rom += [r1[j] / r0[j] for j in r0 if r0[j] > 20]
    return {"filter": name, "bonn_mean_oks": round(bonn_oks(g, ids, smooth(bonn_rows, 25.0, make)), 4),
            "jitter_vs_raw": round(float(np.mean(jit)), 3), "rom_kept_mean": round(float(np.mean(rom)), 3),
            "rom_kept_worst": round(float(np.min(rom)), 3)}


def main(argv: list[str] | None = None) -> int:
    from edgepose.inference.filters import OneEuroFilter

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--params", nargs="*", default=[], help="min_cutoff,beta,d_cutoff triples")
    ap.add_argument("--legacy", action="store_true", help="also the filter as it was before 2026-11-24")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    if not (SHARED_TOOLS / "coco_eval.py").exists():
        print("needs ../shared/tools and ../shared/data", file=sys.stderr)
        return 2
    clips = raw_streams()
    g, ids, bonn_rows = bonn()
    rows = [evaluate("none (raw)", None, clips, g, ids, bonn_rows),
            evaluate("default", OneEuroFilter, clips, g, ids, bonn_rows)]
    for p in a.params:
        mc, beta, dc = (float(x) for x in p.split(","))
        rows.append(evaluate(f"{mc},{beta},{dc}", lambda mc=mc, beta=beta, dc=dc: OneEuroFilter(mc, beta, dc),
                             clips, g, ids, bonn_rows))
    if a.legacy:
        rows.append(evaluate("legacy 1.5,8,1", LegacyOneEuro, clips, g, ids, bonn_rows))
    for r in rows:
        print(json.dumps(r))
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
