#!/usr/bin/env python3
"""A gym floor of ten people made of real clips, with a people count that is known.

No shared clip shows ten people at once, and hand-counting a crowd clip is slow and arguable. This
tool lays real clips from ``../shared/data`` side by side on one canvas (each scaled into its own
tile, nothing drawn or synthesised), so every tile holds a known number of performers for the
whole video, and then scores what ``edgepose analyze`` made of it:

* **coverage**: per frame and tile, ``min(poses in the tile, performers) / performers``, summed
  over every performer-frame (a pose belongs to the tile its torso centre lies in);
* **ids over a second** per tile against its performers, and their total against the real ten;
* **ids in two tiles**: a track that jumped from one performer to another (a wrong identity);
* **extra poses**: poses beyond the performers in a tile (background people in the street clip
  are allowed there, so that tile's extras are only counted, not held against anyone);
* **duplicate frames**: frames where two poses lie on one body (``relink.one_body``).

Clips shorter than the mosaic play forward and backward (ping-pong), so nobody jumps.

Usage:
    python tools/crowd_mosaic.py make /tmp/crowd.mp4 [--seconds 8] [--fps 25] [--crowd 16]
    edgepose analyze /tmp/crowd.mp4 --out /tmp/crowd --no-report [--people 20]
    python tools/crowd_mosaic.py score /tmp/crowd.json /tmp/crowd/poses.jsonl
(``make`` writes the layout next to the video, ``/tmp/crowd.json``.) Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from edgepose.analyze.relink import one_body  # noqa: E402

DATA = REPO.parent / "shared" / "data"

# (clip, performers, first and last second used: the span where every performer is fully in
# view, looked at frame by frame; background people allowed in the tile)
CLIPS: tuple[tuple[str, int, float, float, bool], ...] = (
    ("video/dance_trio.mp4", 3, 0.0, 8.9, False),
    ("video/dance_single_office.mp4", 1, 0.0, 10.8, False),
    ("exercise/front_raise_side.mp4", 1, 0.0, 6.2, False),
    ("exercise/jump_rope_quva023.mp4", 1, 0.0, 4.2, False),
    ("exercise/squat_side_gym.mp4", 1, 0.0, 11.7, False),
    ("exercise/lunge_walking_quva020.mp4", 1, 0.0, 3.4, False),
    ("exercise/floor_dumbbell_press_quva013.mp4", 1, 0.0, 26.0, False),
    ("video/walking_toward_camera.mp4", 1, 0.0, 4.7, True),
)
# ``--crowd 16``: a third row of the same clips mirrored left to right and started 1.5 s later, so
# the floor holds sixteen performers, look-alike "twins" in other tiles among them.
SECOND_ROW: tuple[tuple[str, int, float, float, bool], ...] = (
    ("video/dance_trio.mp4", 3, 0.0, 8.9, False),
    ("video/dance_single_office.mp4", 1, 0.0, 10.8, False),
    ("exercise/front_raise_side.mp4", 1, 0.0, 6.2, False),
    ("exercise/squat_side_gym.mp4", 1, 0.0, 11.7, False),
)
MIRROR_DELAY = 1.5
COLS, TILE_W, TILE_H, GAP = 4, 480, 360, 8


@dataclass
class Tile:
    clip: str
    performers: int
    x: int
    y: int
    w: int
    h: int
    background_people: bool
    mirrored: bool = False


def _frames(path: Path, t0: float, t1: float) -> tuple[list[np.ndarray], float]:
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise SystemExit(f"cannot open {path}")
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    out = []
    i = 0
    while True:
        ok, im = cap.read()
        if not ok:
            break
        if t0 <= i / fps <= t1:
            out.append(im)
        i += 1
    cap.release()
    if not out:
        raise SystemExit(f"no frames of {path} between {t0} and {t1} s")
    return out, fps


def _fit(im: np.ndarray) -> np.ndarray:
    """Scale into a tile, keeping the aspect ratio (pad, never stretch)."""
    h, w = im.shape[:2]
    s = min(TILE_W / w, TILE_H / h)
    small = cv2.resize(im, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    tile = np.zeros((TILE_H, TILE_W, 3), np.uint8)
    y, x = (TILE_H - small.shape[0]) // 2, (TILE_W - small.shape[1]) // 2
    tile[y:y + small.shape[0], x:x + small.shape[1]] = small
    return tile


def make(out: Path, seconds: float, fps: float, crowd: int = 10) -> Path:
    clips = []
    tiles = []
    spec = [(c, False) for c in CLIPS] + ([(c, True) for c in SECOND_ROW] if crowd > 10 else [])
    rows = (len(spec) + COLS - 1) // COLS
    for i, ((name, n, t0, t1, bg), mirrored) in enumerate(spec):
        frames, cfps = _frames(DATA / name, t0, t1)
        if mirrored:
            frames = [cv2.flip(f, 1) for f in frames]
        clips.append((frames, cfps, MIRROR_DELAY if mirrored else 0.0))
        r, c = divmod(i, COLS)
        tiles.append(Tile(name, n, GAP + c * (TILE_W + GAP), GAP + r * (TILE_H + GAP), TILE_W, TILE_H, bg,
                          mirrored))
    W, H = GAP + COLS * (TILE_W + GAP), GAP + rows * (TILE_H + GAP)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (W, H))
    n_out = int(round(seconds * fps))
    for k in range(n_out):
        t = k / fps
        canvas = np.zeros((H, W, 3), np.uint8)
        for (frames, cfps, delay), tile in zip(clips, tiles, strict=True):
            j = int((t + delay) * cfps)
            period = 2 * len(frames) - 2 if len(frames) > 1 else 1
            j %= period
            j = j if j < len(frames) else period - j       # ping-pong
            canvas[tile.y:tile.y + TILE_H, tile.x:tile.x + TILE_W] = _fit(frames[j])
        writer.write(canvas)
    writer.release()
    layout = out.with_suffix(".json")
    layout.write_text(json.dumps({"video": out.name, "fps": fps, "frames": n_out, "width": W, "height": H,
                                  "tiles": [asdict(t) for t in tiles]}, indent=1))
    return layout


def _torso_centre(k: np.ndarray) -> tuple[float, float] | None:
    pts = k[[5, 6, 11, 12]]
    good = pts[pts[:, 2] >= 0.3]
    if len(good) < 2:
        good = k[k[:, 2] >= 0.3]
    if not len(good):
        return None
    return float(good[:, 0].mean()), float(good[:, 1].mean())


def score(layout_path: Path, poses_path: Path) -> dict:
    layout = json.loads(layout_path.read_text())
    tiles = [Tile(**t) for t in layout["tiles"]]
    fps = float(layout["fps"])
    rows = [json.loads(x) for x in poses_path.read_text().splitlines() if x.strip()]
    need = sum(t.performers for t in tiles)
    covered = 0
    performer_frames = 0
    extra = 0
    extra_bg = 0
    dup_frames = 0
    full_frames = 0
    frames_of: dict[int, int] = {}
    tiles_of: dict[int, dict[int, int]] = {}
    n = max(1, len(rows))
    per_tile_cov = [0] * len(tiles)
    per_tile_extra = [0] * len(tiles)
    for r in rows:
        poses = r.get("poses") or []
        count = [0] * len(tiles)
        ks = [np.asarray(p["coco17"], float) for p in poses]
        for p, k in zip(poses, ks, strict=True):
            c = _torso_centre(k)
            if c is None:
                continue
            for i, t in enumerate(tiles):
                if t.x <= c[0] < t.x + t.w and t.y <= c[1] < t.y + t.h:
                    count[i] += 1
                    pid = int(p["id"])
                    frames_of[pid] = frames_of.get(pid, 0) + 1
                    tiles_of.setdefault(pid, {}).setdefault(i, 0)
                    tiles_of[pid][i] += 1
                    break
        got = 0
        for i, t in enumerate(tiles):
            g = min(count[i], t.performers)
            got += g
            per_tile_cov[i] += g
            if count[i] > t.performers:
                per_tile_extra[i] += count[i] - t.performers
                if t.background_people:
                    extra_bg += count[i] - t.performers
                else:
                    extra += count[i] - t.performers
        covered += got
        performer_frames += need
        full_frames += got == need
        dup_frames += any(one_body(ks[i], ks[j]) for i in range(len(ks)) for j in range(i + 1, len(ks)))
    long_ids = {pid for pid, f in frames_of.items() if f > fps}
    # an id whose poses lie in two tiles for more than a second's worth each: a jump between people
    mixed = sorted(pid for pid, per in tiles_of.items() if sum(v > fps for v in per.values()) > 1)
    per_tile = []
    for i, t in enumerate(tiles):
        ids = sorted(pid for pid in long_ids if max(tiles_of[pid], key=tiles_of[pid].get) == i)
        per_tile.append({"clip": Path(t.clip).name, "performers": t.performers,
                         "coverage": round(per_tile_cov[i] / max(1, t.performers * len(rows)), 4),
                         "ids_over_1s": len(ids), "extra_poses_per_frame": round(per_tile_extra[i] / n, 3)})
    return {"frames": len(rows), "performers": need,
            "coverage": round(covered / max(1, performer_frames), 4),
            "frames_with_everyone": round(full_frames / n, 4),
            "ids_over_1s": len(long_ids), "ids_over_1s_per_performer": round(len(long_ids) / need, 3),
            "ids_in_two_tiles": mixed, "extra_poses_per_frame": round(extra / n, 3),
            "background_poses_per_frame": round(extra_bg / n, 3),
            "duplicate_frames": round(dup_frames / n, 4), "tiles": per_tile}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make", help="write the mosaic video and its layout (.json beside it)")
    m.add_argument("out", type=Path)
    m.add_argument("--seconds", type=float, default=8.0)
    m.add_argument("--fps", type=float, default=25.0)
    m.add_argument("--crowd", type=int, choices=(10, 16), default=10,
                   help="performers: 10 (two rows) or 16 (a third row of mirrored, later copies)")
    s = sub.add_parser("score", help="score an analyze poses.jsonl against the layout")
    s.add_argument("layout", type=Path)
    s.add_argument("poses", type=Path)
    a = ap.parse_args(argv)
    if a.cmd == "make":
        print(json.dumps({"layout": str(make(a.out, a.seconds, a.fps, a.crowd))}))
    else:
        print(json.dumps(score(a.layout, a.poses), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
