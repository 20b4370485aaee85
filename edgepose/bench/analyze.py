"""Cost of multi-person analysis: frames per second against the number of people in view.

``people_scaling`` builds clips with 1, 2, 4 and 8 real dancers by tiling time-shifted copies of
one real single-dancer video into a grid (each copy starts at a different frame, so the dancers
differ), runs the engine and the tracker on every frame, and reports fps, the engine's detector
and landmark calls, and the people found per frame. Run it with::

    .venv/bin/python -c "from edgepose.bench.analyze import main; main()" \
        ../shared/data/video/dance_single_office.mp4
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from edgepose.analyze.tracking import Tracker

GRIDS = {1: (1, 1), 2: (1, 2), 4: (2, 2), 8: (2, 4)}


def grid_frames(video: Path, people: int, frames: int, cell_w: int = 480) -> list[np.ndarray]:
    """``frames`` frames holding ``people`` copies of ``video``, each copy 15 frames later."""
    cap = cv2.VideoCapture(str(video))
    src = []
    while len(src) < frames + 15 * people:
        ok, img = cap.read()
        if not ok:
            break
        h, w = img.shape[:2]
        src.append(cv2.resize(img, (cell_w, int(round(h * cell_w / w)))))
    cap.release()
    if len(src) < frames + 15 * (people - 1):
        raise ValueError(f"{video} is too short for {people} shifted copies of {frames} frames")
    rows, cols = GRIDS[people]
    out = []
    for f in range(frames):
        cells = [src[f + 15 * k] for k in range(people)]
        out.append(np.vstack([np.hstack(cells[r * cols:(r + 1) * cols]) for r in range(rows)]))
    return out


def people_scaling(video: Path, frames: int = 60, counts: tuple[int, ...] = (1, 2, 4, 8),
                   tiles: str = "auto", max_people: int = 10) -> list[dict]:
    """One row per people count: fps of engine + tracker (the ``edgepose analyze`` defaults:
    up to 10 people, detector every 10 frames), engine calls per frame, performers found."""
    from edgepose.inference.engine import EngineConfig, PoseEngine

    rows = []
    for n in counts:
        clip = grid_frames(video, n, frames)
        engine = PoseEngine(EngineConfig(max_people=max_people, tiles=tiles, detector_every=10))
        tracker = Tracker()
        kept = []
        t0 = time.perf_counter()
        for i, img in enumerate(clip):
            kept.append(tracker.update(engine.process(img, i / 25.0), img))
        tracker.finish()
        dt = time.perf_counter() - t0
        st = engine.stats
        with_id = [sum(p.id is not None for p in poses) for poses in kept]
        rows.append({"people": n, "frame": f"{clip[0].shape[1]}x{clip[0].shape[0]}", "tiles": tiles,
                     "frames": len(clip), "fps": round(len(clip) / dt, 1),
                     "ms_per_frame": round(1000 * dt / len(clip), 1),
                     "tracked_per_frame": round(float(np.mean(with_id)), 2),
                     "detector_passes_share": round(st.detector_frames / len(clip), 2),
                     "detector_calls_per_frame": round(st.detector_calls / len(clip), 2),
                     "landmark_calls_per_frame": round(st.landmark_calls / len(clip), 2),
                     "ids": len(tracker.ids)})
    return rows


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    video = Path(argv[0]) if argv else Path("../shared/data/video/dance_single_office.mp4")
    tiles = argv[1] if len(argv) > 1 else "auto"
    for row in people_scaling(video, tiles=tiles):
        print(json.dumps(row))
    return 0
