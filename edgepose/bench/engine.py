"""Measurements behind ``edgepose bench`` and ``tools/bench_*.py``.

Every figure that matters is a ratio against a baseline measured in the same run on the same
frames, so a busy or slow machine changes the absolute numbers but not the comparison.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from edgepose.capture.sources import VideoFileSource
from edgepose.inference import models
from edgepose.inference.engine import EngineConfig, PoseEngine
from edgepose.live.pipeline import Pipeline


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def decode_all(path: Path, limit: int | None = None) -> list[np.ndarray]:
    from edgepose.capture.media import frames_of_video
    from edgepose.errors import SourceError

    frames = []
    try:
        for _, _, img in frames_of_video(Path(path)):
            if limit is not None and len(frames) >= limit:
                break
            frames.append(img)
    except SourceError as e:
        raise ValueError(f"{path}: no frames ({e})") from None
    return frames


def time_per_call(fn: Callable[[], object], repeat: int = 30, warmup: int = 3) -> float:
    """Median milliseconds of ``fn()``."""
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts) * 1000)


@dataclass
class ModelTimes:
    detector_ms: float
    landmark_ms: dict[str, float]
    movenet_ms: dict[str, float] = field(default_factory=dict)  # MoveNet files that are fetched


def model_invoke_times(threads: int = 2, landmarks: tuple[str, ...] = ("float", "lean", "int8")) -> ModelTimes:
    """Median invoke time of the detector and of each available landmark model."""
    from edgepose.errors import ModelError

    eng = PoseEngine(EngineConfig(threads=threads))
    x = np.zeros((1, 224, 224, 3), np.float32)
    det = time_per_call(lambda: eng.detector.model.run(x))
    lm: dict[str, float] = {}
    y = np.zeros((1, 256, 256, 3), np.float32)
    for name in landmarks:
        try:
            e = PoseEngine(EngineConfig(landmark=name, threads=threads))
        except ModelError:
            continue
        lm[name] = time_per_call(lambda e=e: e.landmarks.model.run(y))
    mv: dict[str, float] = {}
    for name in ("movenet-lightning", "movenet-thunder"):
        try:
            from edgepose.inference.movenet import MoveNetEngine

            m = MoveNetEngine(models.verified_path(models.canonical_name(name)), threads)
        except ModelError:
            continue  # not fetched: `edgepose models fetch movenet-lightning`
        z = np.zeros((1, m.size, m.size, 3), m.dtype)
        mv[name] = time_per_call(lambda m=m, z=z: m.model.run(z))
    return ModelTimes(det, lm, mv)


def frame_costs(frames: list[np.ndarray], threads: int = 2) -> dict[str, float]:
    """Median ms of a frame that runs the detector vs a frame that only tracks."""
    eng = PoseEngine(EngineConfig(max_people=1, threads=threads))
    detect_ms, track_ms = [], []
    for i, f in enumerate(frames):
        before = eng.stats.detector_frames
        t = time.perf_counter()
        eng.process(f, i / 30.0)
        dt = (time.perf_counter() - t) * 1000
        (detect_ms if eng.stats.detector_frames > before else track_ms).append(dt)
        if i % 10 == 9:
            eng.reset()  # force a detector frame now and then
    return {"detector_frame_ms": round(float(np.median(detect_ms)), 2),
            "tracked_frame_ms": round(float(np.median(track_ms)), 2)}


def people_scaling(person: np.ndarray, counts: tuple[int, ...] = (1, 2, 4, 8), frames: int = 20,
                   threads: int = 2) -> dict[int, dict[str, float]]:
    """Frames per second of tracking N copies of a real person side by side (one canvas)."""
    out = {}
    h, w = person.shape[:2]
    for n in counts:
        cols = min(n, 4)
        rows = (n + cols - 1) // cols
        canvas = np.zeros((rows * h, cols * w, 3), np.uint8)
        for k in range(n):
            r, c = divmod(k, cols)
            canvas[r * h:(r + 1) * h, c * w:(c + 1) * w] = person
        eng = PoseEngine(EngineConfig(max_people=n, threads=threads, detector_every=10_000))
        eng.process(canvas, 0.0)
        found = len(eng.process(canvas, 0.033))
        t = time.perf_counter()
        for i in range(frames):
            eng.process(canvas, 0.066 + i * 0.033)
        dt = time.perf_counter() - t
        out[n] = {"people_tracked": found, "fps": round(frames / dt, 2), "ms_per_frame": round(dt / frames * 1000, 2)}
    return out


@dataclass
class ThroughputResult:
    frames: int
    model_only_fps: float
    sequential_fps: float
    pipeline_fps: float
    pipeline_with_pose: float
    latency: dict
    peak_rss_mb: float
    pipeline_decoded_fps: float = 0.0  # the pipeline fed frames already decoded (its own overhead)

    def ratios(self) -> dict[str, float]:
        return {"pipeline_vs_model_only": round(self.pipeline_fps / self.model_only_fps, 3),
                "pipeline_vs_sequential": round(self.pipeline_fps / self.sequential_fps, 3),
                "pipeline_decoded_vs_model_only": round(self.pipeline_decoded_fps / self.model_only_fps, 3)}


class _DecodedFrames:
    """Frames already in memory as a lossless source: the pipeline without the video decoder."""

    live = False
    name = "decoded"
    fps = 30.0

    def __init__(self, frames: list[np.ndarray]):
        self._frames = frames
        self._closed = False

    def frames(self):
        from edgepose.capture.frame import Frame

        for i, img in enumerate(self._frames):
            if self._closed:
                return
            yield Frame(i, time.monotonic_ns(), img, i / 30.0, self.name)

    def close(self) -> None:
        self._closed = True


def throughput(video: Path, threads: int = 2, loops: int = 1) -> ThroughputResult:
    """The pipeline against the model alone and against a plain sequential loop, same video."""
    frames = decode_all(video)
    cfg = EngineConfig(max_people=1, threads=threads)

    # 1. The physical limit: the engine on frames already in memory.
    eng = PoseEngine(cfg)
    t = time.perf_counter()
    for _ in range(loops):
        eng.reset()
        for i, f in enumerate(frames):
            eng.process(f, i / 30.0)
    model_fps = loops * len(frames) / (time.perf_counter() - t)

    # 2. The plain loop: read a frame, infer, evaluate, repeat.
    eng = PoseEngine(cfg)
    t = time.perf_counter()
    n = 0
    for _ in range(loops):
        eng.reset()
        cap = cv2.VideoCapture(str(video))
        while True:
            ok, img = cap.read()
            if not ok:
                break
            eng.process(img, n / 30.0)
            n += 1
        cap.release()
    seq_fps = n / (time.perf_counter() - t)

    # 3. The pipeline: capture, infer and evaluate on their own threads.
    eng = PoseEngine(cfg)
    with_pose = 0
    total = 0
    last_stats = None
    t = time.perf_counter()
    for _ in range(loops):
        eng.reset()
        counts = {"pose": 0}

        def sink(res, counts=counts):
            counts["pose"] += bool(res.poses)

        pipe = Pipeline(VideoFileSource(str(video)), lambda fr: eng.process(fr.image, fr.t_media), None, [sink])
        last_stats = pipe.run()
        total += last_stats.frames_out
        with_pose += counts["pose"]
    pipe_fps = total / (time.perf_counter() - t)

    # 4. The pipeline on frames already decoded: what the threads and queues themselves cost.
    eng = PoseEngine(cfg)
    t = time.perf_counter()
    for _ in range(loops):
        eng.reset()
        Pipeline(_DecodedFrames(frames), lambda fr: eng.process(fr.image, fr.t_media)).run()
    dec_fps = loops * len(frames) / (time.perf_counter() - t)
    return ThroughputResult(len(frames), round(model_fps, 2), round(seq_fps, 2), round(pipe_fps, 2),
                            round(with_pose / max(1, total), 4), last_stats.as_dict() if last_stats else {},
                            round(peak_rss_mb(), 1), round(dec_fps, 2))
