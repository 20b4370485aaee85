#!/usr/bin/env python3
"""Model calls and ms per frame for about 1, 4 and 10 people: stills, offline video, live video.

    .venv/bin/python tools/pose_cost.py [--data ../shared/data] [--frames 60] [--repeats 3]
        [--threads 2] [--modes stills,analyze,live,live1] [--json OUT] [--markdown]

Real scenes only (nothing tiled or synthesised):

* stills -- ``keypoints/posetrack18`` 003418 (1 annotated person, 1920x1080), ``keypoints/coco``
  000000000785 (1, 640x425), a Bonn frame (4, 960x540), ``keypoints/coco`` 000000197388 (5 skiers,
  640x392), the PoseTrack plaza 012834 (11, 1920x1080); the engine as ``edgepose infer`` makes it
  (``max_people=20``, tiles ``auto``);
* video -- ``video/dance_single_office.mp4`` (1 dancer), ``tracking/bonn_060470979`` frames (4, all
  25 frames), ``video/dance_trio.mp4`` (3), OpenCV's ``vtest.avi`` pedestrians (the ``--frames``
  window with the most people; counted as below), the first ``--frames`` frames of the others,
  decoded into memory first; ``analyze``
  = the engine ``edgepose analyze`` builds (``edgepose.analyze.runner.make_engine``: 10 people,
  person detector on every search, whole tile scans, no motion regions), ``live`` = the
  appliance's engine (``EngineConfig`` defaults: person detector for lock-on only, every 3 frames
  at most, whole frame; motion regions on) with ``max_people=10``, ``live1`` the same with the
  appliance's default ``max_people=1`` (the single-exerciser path).

The engine's model wrappers are instrumented from outside (their ``detect``/``run`` replaced on
the instance by a counting, timing wrapper), so the production code carries no counters. Kinds:
``bp_det`` BlazePose's detector on the whole frame, ``bp_tile`` on a tile of
:func:`edgepose.inference.engine.tile_regions`, ``bp_region`` around a just-lost person,
``person`` the CenterNet person detector on the whole frame, ``person_crop`` on a crop of
:func:`edgepose.inference.person_detector.crop_regions`, ``landmark`` the landmark model.
ms per frame is the wall time of ``detect_image`` / ``process`` (decode excluded); ratios are
against the first 1-person scene of the same mode, taken in the same run before and after the
others (the mean of the two). People in view on the
unannotated clips: the median per frame of float16 CenterNet boxes with score >= 0.5 (a proxy, said
as such). Wall-clock figures on a shared machine are floors: the load average is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgepose.inference import engine as eng  # noqa: E402
from edgepose.inference import person_detector as persons  # noqa: E402

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
KINDS = ("bp_det", "bp_tile", "bp_region", "person", "person_crop", "landmark")


@dataclass
class Scene:
    name: str
    people: float            # annotated people, or the CenterNet proxy for unannotated clips
    people_source: str       # "annotated" or "centernet>=0.5 median"
    frames: list[np.ndarray]
    fps: float = 30.0


@dataclass
class Tally:
    """Calls and ms per kind, for the frame under way."""

    calls: Counter = field(default_factory=Counter)
    ms: defaultdict = field(default_factory=lambda: defaultdict(float))

    def add(self, kind: str, ms: float) -> None:
        self.calls[kind] += 1
        self.ms[kind] += ms


def instrument(engine: eng.PoseEngine, tally: Tally) -> None:
    """Replace the engine's model entry points, on the instance, by counting wrappers."""
    tiles: dict[tuple[int, int], set] = {}

    def timed(kind_of, fn):
        def wrapper(image, *args, **kwargs):
            kind = kind_of(image, *args, **kwargs)
            t0 = time.perf_counter()
            out = fn(image, *args, **kwargs)
            tally.add(kind, (time.perf_counter() - t0) * 1e3)
            return out
        return wrapper

    def bp_kind(image, region=None):
        if region is None:
            return "bp_det"
        h, w = image.shape[:2]
        known = tiles.setdefault((w, h), {tuple(r) for r in eng.tile_regions(w, h)})
        return "bp_tile" if tuple(region) in known else "bp_region"

    engine.detector.detect = timed(bp_kind, engine.detector.detect)
    # the landmark model: ``run`` (crop + invoke) and ``run_crop`` (invoke on a crop made by the
    # caller, e.g. the stills' anti-aliased crops); ``run`` calls ``run_crop``: counted once
    inside = [0]

    def outer_only(fn):
        counted = timed(lambda *_a, **_k: "landmark", fn)

        def wrapper(*args, **kwargs):
            if inside[0]:
                return fn(*args, **kwargs)
            inside[0] += 1
            try:
                return counted(*args, **kwargs)
            finally:
                inside[0] -= 1
        return wrapper

    engine.landmarks.run_crop = outer_only(engine.landmarks.run_crop)
    engine.landmarks.run = outer_only(engine.landmarks.run)
    if engine.persons is not None:
        engine.persons.detect = timed(lambda _img, region=None: "person" if region is None else "person_crop",
                                      engine.persons.detect)


def _read_video(path: Path, n: int, start: int = 0) -> tuple[list[np.ndarray], float]:
    import cv2

    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    for _ in range(start):
        if not cap.grab():
            break
    frames = []
    while len(frames) < n:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    return frames, float(fps)


def _busiest_start(path: Path, n: int, det: persons.PersonDetector, step: int = 50) -> int:
    """The first frame of the ``n``-frame window with the most people (CenterNet score >= 0.5,
    whole frame and crops, sampled every ``step`` frames)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    counts: list[int] = []
    i = 0
    while True:
        ok, f = cap.read()
        if not ok:
            break
        if i % step == 0:
            counts.append(sum(b.score >= 0.5 for b in det.detect_all(f)))
        i += 1
    cap.release()
    win = max(1, n // step)
    sums = [sum(counts[k:k + win]) for k in range(max(1, len(counts) - win + 1))]
    return int(np.argmax(sums)) * step


def _proxy_people(frames: list[np.ndarray], det: persons.PersonDetector) -> float:
    idx = np.linspace(0, len(frames) - 1, min(10, len(frames))).round().astype(int)
    return float(np.median([sum(b.score >= 0.5 for b in det.detect_all(frames[i])) for i in idx]))


def still_scenes(data: Path) -> list[Scene]:
    import cv2

    kp = data / "keypoints"
    items = [("posetrack 003418 lying man 1920x1080", 1, kp / "posetrack18/images/val/003418_mpii_test/000000.jpg"),
             ("coco 785 skier 640x425", 1, kp / "coco/000000000785.jpg"),
             ("bonn frame 1 960x540", 4, data / "tracking/bonn_060470979/frames/00001.jpg"),
             ("coco 197388 skiers 640x392", 5, kp / "coco/000000197388.jpg"),
             ("posetrack 012834 plaza 1920x1080", 11, kp / "posetrack18/images/val/012834_mpii_test/000000.jpg")]
    return [Scene(name, n, "annotated", [cv2.imread(str(p))]) for name, n, p in items]


def video_scenes(data: Path, n: int, det: persons.PersonDetector) -> list[Scene]:
    import cv2

    out = []
    f, fps = _read_video(data / "video/dance_single_office.mp4", n)
    out.append(Scene(f"dance_single_office {f[0].shape[1]}x{f[0].shape[0]}", 1, "annotated (one dancer)", f, fps))
    bonn = sorted((data / "tracking/bonn_060470979/frames").glob("*.jpg"))[:n]
    ann = json.load(open(data / "tracking/bonn_060470979/annotations.json"))
    per = Counter(a["image_id"] for a in ann["annotations"] if a.get("num_keypoints", 1) > 0)
    out.append(Scene("bonn frames 960x540", float(np.mean(list(per.values()))), "annotated",
                     [cv2.imread(str(p)) for p in bonn], 30.0))
    f, fps = _read_video(data / "video/dance_trio.mp4", n)
    out.append(Scene(f"dance_trio {f[0].shape[1]}x{f[0].shape[0]}", 3, "annotated (three dancers)", f, fps))
    if VTEST.is_file():
        start = _busiest_start(VTEST, n, det)
        f, fps = _read_video(VTEST, n, start)
        out.append(Scene(f"vtest.avi frames {start}-{start + len(f) - 1} {f[0].shape[1]}x{f[0].shape[0]}",
                         _proxy_people(f, det),
                         "centernet>=0.5 median", f, fps))
    return out


def run_scene(engine: eng.PoseEngine, tally: Tally, scene: Scene, still: bool, repeats: int) -> dict:
    per_frame_calls: list[Counter] = []
    per_frame_ms: list[float] = []
    kind_ms: defaultdict = defaultdict(float)
    poses: list[int] = []
    if still:
        img = scene.frames[0]
        for r in range(repeats):
            tally.calls.clear()
            tally.ms.clear()
            t0 = time.perf_counter()
            got = engine.detect_image(img)
            per_frame_ms.append((time.perf_counter() - t0) * 1e3)
            if r == 0:
                per_frame_calls.append(Counter(tally.calls))
                poses.append(len(got))
            for k, v in tally.ms.items():
                kind_ms[k] += v / repeats
        ms = float(np.median(per_frame_ms))
        nframes = 1
    else:
        engine.reset()
        for i, img in enumerate(scene.frames):
            tally.calls.clear()
            tally.ms.clear()
            t0 = time.perf_counter()
            got = engine.process(img, i / scene.fps)
            per_frame_ms.append((time.perf_counter() - t0) * 1e3)
            per_frame_calls.append(Counter(tally.calls))
            poses.append(len(got))
            for k, v in tally.ms.items():
                kind_ms[k] += v
        nframes = len(scene.frames)
        ms = float(np.mean(per_frame_ms))
    calls = {k: round(sum(c[k] for c in per_frame_calls) / nframes, 3) for k in KINDS}
    return {"scene": scene.name, "people": round(scene.people, 2), "people_source": scene.people_source,
            "frames": nframes, "poses_per_frame": round(float(np.mean(poses)), 2),
            "calls_per_frame": calls,
            "detector_calls_per_frame": round(sum(calls[k] for k in KINDS if k != "landmark"), 3),
            "frames_with_person_detector": int(sum(1 for c in per_frame_calls if c["person"] + c["person_crop"])),
            "ms_per_frame": round(ms, 2), "ms_per_frame_median": round(float(np.median(per_frame_ms)), 2),
            "ms_per_frame_p95": round(float(np.percentile(per_frame_ms, 95)), 2),
            "ms_by_kind_per_frame": {k: round(kind_ms[k] / nframes, 2) for k in KINDS if kind_ms[k]}}


def _engine(mode: str, threads: int) -> eng.PoseEngine:
    if mode == "stills":
        return eng.PoseEngine(eng.EngineConfig(max_people=20, threads=threads))
    if mode == "analyze":
        from edgepose.analyze.runner import AnalyzeConfig, make_engine

        return make_engine(AnalyzeConfig(threads=threads))
    if mode == "live1":
        return eng.PoseEngine(eng.EngineConfig(max_people=1, threads=threads))
    return eng.PoseEngine(eng.EngineConfig(max_people=10, threads=threads))


def markdown(res: dict) -> str:
    rows = ["| mode | scene | people | frames | poses/frame | BlazePose det | tiles | lost-region | person det "
            "| person crops | landmark | detector calls/frame | ms/frame | vs 1 person |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for mode, scenes in res["modes"].items():
        for s in scenes:
            c = s["calls_per_frame"]
            rows.append(f"| {mode} | {s['scene']} | {s['people']:g} | {s['frames']} | {s['poses_per_frame']:g} | "
                        f"{c['bp_det']:g} | {c['bp_tile']:g} | {c['bp_region']:g} | {c['person']:g} | "
                        f"{c['person_crop']:g} | {c['landmark']:g} | {s['detector_calls_per_frame']:g} | "
                        f"{s['ms_per_frame']:.1f} | {s['ms_ratio_vs_1']:.2f}x |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--frames", type=int, default=60, help="frames per clip (from the start)")
    ap.add_argument("--repeats", type=int, default=3, help="runs per still (median ms)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--modes", default="stills,analyze,live,live1")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args(argv)

    modes = [m.strip() for m in a.modes.split(",") if m.strip()]
    res: dict = {"threads": a.threads, "frames_per_clip": a.frames, "load_average_start": os.getloadavg(),
                 "cpus": os.cpu_count(), "modes": {}}
    need_video = any(m != "stills" for m in modes)
    proxy = persons.load(threads=a.threads) if need_video else None
    if need_video and proxy is None:
        print("error: the person detector is not fetched; run `edgepose models fetch person-detector`", file=sys.stderr)
        return 2
    videos = video_scenes(a.data, a.frames, proxy) if need_video else []
    for mode in modes:
        engine = _engine(mode, a.threads)
        tally = Tally()
        instrument(engine, tally)
        scenes = still_scenes(a.data) if mode == "stills" else videos
        if mode == "stills":  # warm-up: first invokes allocate
            engine.detect_image(scenes[0].frames[0])
        out = [run_scene(engine, tally, s, mode == "stills", a.repeats) for s in scenes]
        # the baseline once more at the end: the load of a shared machine drifts during a mode
        again = run_scene(engine, tally, scenes[0], mode == "stills", a.repeats)["ms_per_frame"]
        base = (out[0]["ms_per_frame"] + again) / 2
        for s in out:
            s["ms_ratio_vs_1"] = round(s["ms_per_frame"] / base, 2)
        res["modes"][mode] = out
        res.setdefault("baseline_ms_first_last", {})[mode] = [out[0]["ms_per_frame"], round(again, 2)]
        engine.close()
    res["load_average_end"] = os.getloadavg()
    print(json.dumps(res, indent=1))
    if a.markdown:
        print()
        print(markdown(res))
    if a.json:
        a.json.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
