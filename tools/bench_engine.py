#!/usr/bin/env python3
"""Engine costs: invoke time per model (float vs int8), detector vs tracked frame, people scaling,
peak RSS; MediaPipe's pipeline on the same frames beside it.

  .venv/bin/python tools/bench_engine.py [--video ../shared/data/video/walking_toward_camera.mp4]
      [--threads 2] [--mediapipe]
  .venv/bin/python tools/bench_engine.py --live [--video V] [--rounds 2]

``--live``: only the single-person live path -- the engine as ``edgepose run`` builds it
(``EngineConfig.from_config`` of a config whose ``[model] threads`` is ``--threads``, person
detector and motion lock-on on) -- against MediaPipe's ``pose.process()`` on the same decoded
frames, in rounds of edgepose / MediaPipe / edgepose; each round's ratio takes the slower of its
two edgepose runs, so load that drifts during a round counts against edgepose (also given: the
mean of the two; minimum and median over the rounds; the best run of each side; and the ratio of
median frame times, MediaPipe's over the slower edgepose run's, which bursts of load move least).

Every comparison is made in one run on one machine; the figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

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
    ap.add_argument("--live", action="store_true", help="only the live single-person path vs MediaPipe")
    ap.add_argument("--rounds", type=int, default=2, help="--live: edgepose/MediaPipe/edgepose rounds")
    a = ap.parse_args(argv)
    if a.live:
        print(json.dumps(live_vs_mediapipe(a.video, a.threads, a.rounds), indent=1))
        return 0

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


def _live_run(frames: list, threads: int, fps_video: float) -> dict:
    from edgepose.config import loads

    eng = make_engine(EngineConfig.from_config(loads(f"[model]\nthreads = {threads}\n")))
    per_frame, with_pose = [], 0
    for i, f in enumerate(frames):
        t = time.perf_counter()
        with_pose += bool(eng.process(f, i / fps_video))
        per_frame.append(time.perf_counter() - t)
    st = eng.stats
    return {"fps": round(len(frames) / sum(per_frame), 2), "median_ms": round(1000 * float(np.median(per_frame)), 3),
            "with_pose": f"{with_pose}/{len(frames)}",
            "person_detector_calls": st.person_calls, "detector_frames": st.detector_frames,
            "landmark_calls": st.landmark_calls}


def live_vs_mediapipe(video: Path, threads: int, rounds: int) -> dict:
    import os
    import tempfile

    sys.path.insert(0, str(REPO / "tools"))
    import mediapipe_baseline as mb

    frames = decode_all(video)
    cap = cv2.VideoCapture(str(video))
    fps_video = cap.get(cv2.CAP_PROP_FPS) or 30.0
    cap.release()
    out: dict = {"video": video.name, "frames": len(frames), "threads": threads,
                 "load_avg_1min_at_start": round(os.getloadavg()[0], 1), "rounds": []}
    _live_run(frames[:10], threads, fps_video)  # warm-up: model files into the page cache
    for _ in range(rounds):
        before = _live_run(frames, threads, fps_video)
        with tempfile.TemporaryDirectory() as tmp:
            s = mb.run_video(video, Path(tmp) / "mp.jsonl")
        after = _live_run(frames, threads, fps_video)
        slower = min(before["fps"], after["fps"])
        slower_median = max(before["median_ms"], after["median_ms"])
        out["rounds"].append({"edgepose_before": before, "mediapipe": {"fps_process_only": s.fps,
                              "median_ms": s.median_ms,
                              "with_pose": f"{s.with_pose}/{s.frames}"}, "edgepose_after": after,
                              "ratio_median_frame_time": round(s.median_ms / slower_median, 2) if s.median_ms else None,
                              "ratio_slower_edgepose_vs_mediapipe": round(slower / s.fps, 2) if s.fps else None,
                              "ratio_mean_edgepose_vs_mediapipe":
                                  round((before["fps"] + after["fps"]) / 2 / s.fps, 2) if s.fps else None})
    med = sorted(r["ratio_median_frame_time"] for r in out["rounds"] if r["ratio_median_frame_time"])
    out["ratio_median_frame_time_min"] = med[0] if med else None
    for key in ("slower", "mean"):
        ratios = sorted(r[f"ratio_{key}_edgepose_vs_mediapipe"] for r in out["rounds"]
                        if r[f"ratio_{key}_edgepose_vs_mediapipe"])
        out[f"ratio_{key}_min"] = ratios[0] if ratios else None
        out[f"ratio_{key}_median"] = ratios[len(ratios) // 2] if ratios else None
    # best of all runs on each side (timeit's rule: noise only ever slows a run down)
    best_ep = max(max(r["edgepose_before"]["fps"], r["edgepose_after"]["fps"]) for r in out["rounds"])
    best_mp = max((r["mediapipe"]["fps_process_only"] or 0.0) for r in out["rounds"])
    out["ratio_best_of_each"] = round(best_ep / best_mp, 2) if best_mp else None
    out["load_avg_1min_at_end"] = round(os.getloadavg()[0], 1)
    return out


if __name__ == "__main__":
    sys.exit(main())
