#!/usr/bin/env python3
"""Pipeline throughput on a real video, as ratios against baselines taken in the same run.

  .venv/bin/python tools/bench_pipeline.py [--video ../shared/data/video/walking_toward_camera.mp4]
      [--loops 3] [--threads 1 2] [--mediapipe]

For each interpreter thread count it measures, on the same frames:
  model only   the engine on frames already decoded into memory (the physical limit),
  sequential   a plain read -> infer -> evaluate loop,
  pipeline     edgepose's capture / infer / evaluate threads,
and, with --mediapipe, MediaPipe's own Pose pipeline (solutions.pose, its own venv) on the same
video, including decode. Prints one JSON object per configuration and a summary table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgepose.bench.engine import throughput  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--video", type=Path, default=REPO / ".." / "shared" / "data" / "video" / "walking_toward_camera.mp4")
    ap.add_argument("--loops", type=int, default=3, help="passes over the video per measurement")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--mediapipe", action="store_true", help="also run MediaPipe's pipeline (builds its venv)")
    ap.add_argument("--paced", type=float, metavar="FPS",
                    help="also run the video as a live camera at FPS (latest frame wins) and report latency")
    a = ap.parse_args(argv)
    rows = []
    for th in a.threads:
        r = throughput(a.video, threads=th, loops=a.loops)
        row = {"threads": th, "frames": r.frames * a.loops, "model_only_fps": r.model_only_fps,
               "sequential_fps": r.sequential_fps, "pipeline_fps": r.pipeline_fps,
               "pipeline_decoded_fps": r.pipeline_decoded_fps,
               "pipeline_with_pose": r.pipeline_with_pose, **r.ratios(),
               "infer_ms": r.latency.get("infer_ms"), "glass_to_feedback_ms": r.latency.get("glass_to_feedback_ms"),
               "peak_rss_mb": r.peak_rss_mb}
        print(json.dumps(row))
        rows.append(row)
    best_model = max(r["model_only_fps"] for r in rows)
    best_pipe = max(rows, key=lambda r: r["pipeline_fps"])
    out = {"video": a.video.name, "best_model_only_fps": best_model, "best_pipeline_fps": best_pipe["pipeline_fps"],
           "best_pipeline_threads": best_pipe["threads"],
           "best_pipeline_vs_best_model_only": round(best_pipe["pipeline_fps"] / best_model, 3)}
    if a.mediapipe:
        import tempfile

        sys.path.insert(0, str(REPO / "tools"))
        import mediapipe_baseline as mb

        with tempfile.TemporaryDirectory() as tmp:
            s = mb.run_video(a.video, Path(tmp) / "mp.jsonl")
        mp_fps = s.frames / s.loop_s
        out.update(mediapipe_fps_with_decode=round(mp_fps, 2), mediapipe_with_pose=round(s.with_pose / s.frames, 4),
                   pipeline_vs_mediapipe=round(best_pipe["pipeline_fps"] / mp_fps, 3))
    if a.paced:
        out["paced"] = paced_latency(a.video, a.paced)
    print(json.dumps(out))
    return 0


class PacedVideo:
    """The frames of a video delivered at a camera's pace, as a live source (latest frame wins)."""

    live = True
    name = "paced"

    def __init__(self, path: Path, fps: float, seconds: float = 10.0):
        self.path, self.fps, self.seconds = path, fps, seconds
        self._closed = False

    def frames(self):
        import time

        import cv2

        from edgepose.capture.frame import Frame

        cap = cv2.VideoCapture(str(self.path))
        t0, i = time.monotonic(), 0
        while not self._closed and i < self.seconds * self.fps:
            ok, img = cap.read()
            if not ok:
                cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                continue
            time.sleep(max(0.0, t0 + i / self.fps - time.monotonic()))
            yield Frame(i, time.monotonic_ns(), img, i / self.fps, self.name)
            i += 1
        cap.release()

    def close(self) -> None:
        self._closed = True


def paced_latency(video: Path, fps: float) -> dict:
    from edgepose.inference.engine import EngineConfig, PoseEngine
    from edgepose.live.pipeline import Pipeline

    eng = PoseEngine(EngineConfig())
    st = Pipeline(PacedVideo(video, fps), lambda f: eng.process(f.image, f.t_media)).run()
    return {"fps_in": fps, "fps_out": round(st.fps(), 2), "dropped": st.dropped,
            "glass_to_feedback_ms": st.glass_to_feedback.summary(), "infer_ms": st.infer.summary()}


if __name__ == "__main__":
    sys.exit(main())
