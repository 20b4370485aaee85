#!/usr/bin/env python3
"""Engine costs: invoke time per model (float vs int8), detector vs tracked frame, people scaling,
peak RSS; MediaPipe's pipeline on the same frames beside it.

  .venv/bin/python tools/bench_engine.py [--video ../shared/data/video/walking_toward_camera.mp4]
      [--threads 2] [--mediapipe]

Every comparison is made in one run on one machine; the figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgepose.bench.engine import decode_all, frame_costs, model_invoke_times, peak_rss_mb, people_scaling  # noqa: E402
from edgepose.inference.engine import EngineConfig, make_engine  # noqa: E402

VIDEO_MODELS = ("float", "lean", "int8", "movenet-lightning", "movenet-thunder")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data = REPO / ".." / "shared" / "data"
    ap.add_argument("--video", type=Path, default=data / "video" / "walking_toward_camera.mp4")
    ap.add_argument("--person", type=Path, default=data / "keypoints" / "coco" / "000000000785.jpg",
                    help="image of one person, tiled 1/2/4/8 times for the scaling figure")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--mediapipe", action="store_true")
    a = ap.parse_args(argv)

    mt = model_invoke_times(a.threads)
    res: dict = {"threads": a.threads, "detector_ms": round(mt.detector_ms, 2),
                 "landmark_ms": {k: round(v, 2) for k, v in mt.landmark_ms.items()}}
    for other in ("lean", "int8"):
        if "float" in mt.landmark_ms and other in mt.landmark_ms:
            res[f"{other}_speedup_vs_float"] = round(mt.landmark_ms["float"] / mt.landmark_ms[other], 2)
    frames = decode_all(a.video)
    res.update(frame_costs(frames, a.threads))
    res["detector_vs_tracked_frame"] = round(res["detector_frame_ms"] / res["tracked_frame_ms"], 2)

    for name in VIDEO_MODELS:
        try:
            eng = make_engine(EngineConfig(landmark=name, max_people=1, threads=a.threads))
        except Exception as e:  # noqa: BLE001 - int8 or MoveNet absent: say so
            res[f"video_{name}"] = f"unavailable: {e}"
            continue
        t = time.perf_counter()
        with_pose = sum(bool(eng.process(f, i / 30.0)) for i, f in enumerate(frames))
        dt = time.perf_counter() - t
        res[f"video_{name}"] = {"fps": round(len(frames) / dt, 2), "with_pose": round(with_pose / len(frames), 4)}
        if hasattr(eng, "stats"):
            res[f"video_{name}"]["detector_frames"] = eng.stats.detector_frames
    person = cv2.imread(str(a.person))
    res["people_scaling"] = people_scaling(person, threads=a.threads)
    res["peak_rss_mb"] = round(peak_rss_mb(), 1)
    if a.mediapipe:
        import tempfile

        sys.path.insert(0, str(REPO / "tools"))
        import mediapipe_baseline as mb

        with tempfile.TemporaryDirectory() as tmp:
            s = mb.run_video(a.video, Path(tmp) / "mp.jsonl")
        res["mediapipe_video"] = {"process_ms_mean": s.mean_ms, "fps_process_only": s.fps,
                                  "with_pose": round(s.with_pose / s.frames, 4)}
        for name in VIDEO_MODELS:
            if isinstance(res.get(f"video_{name}"), dict) and s.fps:
                res[f"edgepose_{name}_vs_mediapipe_fps"] = round(res[f"video_{name}"]["fps"] / s.fps, 3)
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
