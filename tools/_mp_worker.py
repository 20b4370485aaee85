"""Run MediaPipe's own Pose pipeline and write edgepose ``infer`` JSON Lines.

This script runs *inside the baseline venv* (``.venv-mediapipe``, made by
``tools/mediapipe_baseline.py``), which has ``mediapipe==0.10.14`` and ``numpy<2``. It imports
nothing from edgepose, so it only needs that venv. It is a benchmark tool, not part of the device.

Usage (normally called by tools/mediapipe_baseline.py)::

    .venv-mediapipe/bin/python tools/_mp_worker.py images IMG... --out FILE.jsonl
    .venv-mediapipe/bin/python tools/_mp_worker.py video VIDEO --out FILE.jsonl [--max-frames N]

Pipeline: legacy ``mp.solutions.pose.Pose(model_complexity=1)`` — the same two models as
edgepose (pose_detection.tflite + pose_landmark_full.tflite). Images use
``static_image_mode=True`` (detector on every image); a video uses ``static_image_mode=False``
(ROI tracking from the last landmarks, MediaPipe's own smoothing).

One line per image or frame, the edgepose ``infer`` contract plus ``"ms"`` (wall time of
``pose.process()`` on that frame)::

    {"source", "frame", "t", "width", "height", "ms",
     "poses": [{"id": null, "score", "box": [x, y, w, h], "layout": "blazepose33",
                "keypoints": [[x_px, y_px, vis]] * 33, "coco17": [[x_px, y_px, vis]] * 17}]}

The legacy API does not expose the landmark model's pose-presence flag, so ``score`` is the mean
visibility of the 33 landmarks. At most one pose per frame (the legacy solution is single-person).
A last summary line goes to stdout as JSON (frames, with_pose, mean_ms, loop wall seconds).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

# MediaPipe BlazePose-33 index of each COCO-17 keypoint, in COCO order (nose, eyes, ears,
# shoulders, elbows, wrists, hips, knees, ankles; left before right).
BLAZE_TO_COCO17 = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)


def pose_dict(landmarks: list[tuple[float, float, float]], width: int, height: int) -> dict:
    """One edgepose pose dict from 33 normalised (x, y, visibility) landmarks.

    Parameters
    ----------
    landmarks
        33 tuples in BlazePose order; x and y normalised to the image (may fall outside [0, 1]).
    width, height
        Image size in pixels.
    """
    if len(landmarks) != 33:
        raise ValueError(f"expected 33 BlazePose landmarks, got {len(landmarks)}")
    kps = [[round(x * width, 2), round(y * height, 2), round(min(1.0, max(0.0, v)), 4)]
           for x, y, v in landmarks]
    xs = [k[0] for k in kps]
    ys = [k[1] for k in kps]
    x0, y0, x1, y1 = min(xs), min(ys), max(xs), max(ys)  # extent of all 33, as edgepose Pose.box()
    score = sum(k[2] for k in kps) / len(kps)
    return {
        "id": None,
        "score": round(min(1.0, max(0.0, score)), 4),
        "box": [round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2)],
        "layout": "blazepose33",
        "keypoints": kps,
        "coco17": [list(kps[i]) for i in BLAZE_TO_COCO17],
    }


def _landmarks(result) -> list[tuple[float, float, float]] | None:
    lm = getattr(result, "pose_landmarks", None)
    if lm is None:
        return None
    return [(p.x, p.y, p.visibility) for p in lm.landmark]


def _process(pose, bgr) -> tuple[list[dict], float]:
    import cv2

    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    t0 = time.perf_counter()
    result = pose.process(rgb)
    ms = (time.perf_counter() - t0) * 1000.0
    h, w = bgr.shape[:2]
    lms = _landmarks(result)
    return ([pose_dict(lms, w, h)] if lms else []), ms


def _new_pose(static: bool):
    import mediapipe as mp

    return mp.solutions.pose.Pose(static_image_mode=static, model_complexity=1, smooth_landmarks=True,
                                  enable_segmentation=False, min_detection_confidence=0.5,
                                  min_tracking_confidence=0.5)


def _timing(ms_all: list[float]) -> dict:
    if not ms_all:
        return {"mean_ms": None, "median_ms": None}
    srt = sorted(ms_all)
    return {"mean_ms": round(sum(ms_all) / len(ms_all), 3), "median_ms": round(srt[len(srt) // 2], 3)}


def run_images(paths: list[str], out) -> dict:
    import cv2

    n = with_pose = 0
    ms_all: list[float] = []
    t0 = time.perf_counter()
    with _new_pose(static=True) as pose:
        for src in paths:
            img = cv2.imread(src, cv2.IMREAD_COLOR)
            if img is None:
                out.write(json.dumps({"source": src, "frame": 0, "t": 0.0,
                                      "error": f"cannot read image {src} (missing or not an image)"}) + "\n")
                continue
            poses, ms = _process(pose, img)
            h, w = img.shape[:2]
            out.write(json.dumps({"source": src, "frame": 0, "t": 0.0, "width": w, "height": h,
                                  "ms": round(ms, 3), "poses": poses}) + "\n")
            n += 1
            with_pose += bool(poses)
            ms_all.append(ms)
    return {"frames": n, "with_pose": with_pose, "errors": len(paths) - n,
            **_timing(ms_all),
            "loop_s": round(time.perf_counter() - t0, 3)}


def run_video(path: str, out, max_frames: int | None) -> dict:
    import cv2

    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        out.write(json.dumps({"source": path, "frame": 0, "t": 0.0,
                              "error": f"cannot open video {path} (missing or unsupported codec)"}) + "\n")
        return {"frames": 0, "with_pose": 0, "errors": 1, **_timing([]), "loop_s": 0.0}
    fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
    n = with_pose = 0
    ms_all: list[float] = []
    t0 = time.perf_counter()
    with _new_pose(static=False) as pose:
        while max_frames is None or n < max_frames:
            ok, img = cap.read()
            if not ok:
                break
            poses, ms = _process(pose, img)
            h, w = img.shape[:2]
            t = n / fps if fps > 0 else cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            out.write(json.dumps({"source": path, "frame": n, "t": round(t, 4), "width": w, "height": h,
                                  "ms": round(ms, 3), "poses": poses}) + "\n")
            n += 1
            with_pose += bool(poses)
            ms_all.append(ms)
    cap.release()
    return {"frames": n, "with_pose": with_pose, "errors": 0,
            **_timing(ms_all),
            "loop_s": round(time.perf_counter() - t0, 3), "video_fps": round(fps, 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="MediaPipe Pose (legacy solutions.pose) -> edgepose JSONL")
    sub = ap.add_subparsers(dest="what", required=True)
    pi = sub.add_parser("images")
    pi.add_argument("paths", nargs="+")
    pi.add_argument("--out", required=True)
    pv = sub.add_parser("video")
    pv.add_argument("path")
    pv.add_argument("--out", required=True)
    pv.add_argument("--max-frames", type=int, default=None)
    a = ap.parse_args(argv)
    with open(a.out, "w") as out:
        summary = run_images(a.paths, out) if a.what == "images" else run_video(a.path, out, a.max_frames)
    print(json.dumps(summary))
    return 1 if summary["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
