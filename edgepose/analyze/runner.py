"""``edgepose analyze``: every frame through the pose engine and the tracker, then exports.

Pass 1 reads every frame, runs the multi-person engine, gives each performer a stable id with
:class:`edgepose.tracking.Tracker` and appends one JSON line per frame to ``poses.jsonl``
(flushed as it goes, so a file that breaks midway keeps everything read before). Frames are held
back :attr:`Tracker.latency` frames so that a new performer's first poses get the id their track
receives when it is confirmed.

Pass 2 works from ``poses.jsonl`` alone: per-performer sequences, synchronisation, the annotated
video and the HTML report.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TextIO

import numpy as np

from edgepose.analyze.frames import FrameReader, SourceInfo
from edgepose.pose import Pose
from edgepose.tracking import Tracker, TrackerConfig

log = logging.getLogger(__name__)


class PoseEstimator(Protocol):
    """What the runner needs from a pose engine (``edgepose.inference.engine.PoseEngine``)."""

    def process(self, image: np.ndarray, t: float) -> list[Pose]: ...


@dataclass
class AnalyzeConfig:
    """Options of one analysis.

    Attributes
    ----------
    people: most performers per frame the engine looks for.
    folder_fps: frame rate assumed for a folder of frames.
    tiles: the engine's detector tiling (``auto``, ``on``, ``off``).
    detector_every: frames between detector runs while fewer than ``people`` are tracked.
    model: landmark model (``default``, ``float``, ``int8`` or a path).
    threads: interpreter threads.
    tracker: tracker parameters.
    annotate: write ``annotated.mp4``.
    report: write ``report.html`` and the sync figures.
    """

    people: int = 10
    folder_fps: float = 30.0
    tiles: str = "auto"
    detector_every: int = 10
    model: str = "default"
    threads: int = 2
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    annotate: bool = True
    report: bool = True


@dataclass
class PassResult:
    """What pass 1 did."""

    info: SourceInfo
    frames: int = 0
    unreadable: int = 0
    poses: int = 0
    ids: int = 0
    frames_with_people: int = 0
    seconds: float = 0.0
    truncated: bool = False
    vfr: bool = False
    error: str | None = None
    t_last: float = 0.0

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


class Progress:
    """A one-line progress bar on a text stream: frames, fps and ETA."""

    def __init__(self, total: int, stream: TextIO | None = None, label: str = "analyze"):
        self.total, self.label = max(1, total), label
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.t0 = time.monotonic()
        self._last = 0.0

    def __call__(self, done: int, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self._last < (0.25 if self.tty else 5.0):
            return
        self._last = now
        el = max(now - self.t0, 1e-6)
        fps = done / el
        total = max(self.total, done)
        eta = (total - done) / fps if fps > 0 else 0.0
        width = 24
        fill = int(width * done / total)
        bar = "#" * fill + "." * (width - fill)
        line = (f"{self.label} [{bar}] {done}/{total} frames  {fps:5.1f} fps  "
                f"ETA {int(eta // 60)}:{int(eta % 60):02d}")
        self.stream.write(("\r" + line) if self.tty else line + "\n")
        if final and self.tty:
            self.stream.write("\n")
        self.stream.flush()


def default_out_dir(source: str | Path) -> Path:
    """``<video stem>_analysis/`` next to the current directory (``<folder name>_analysis`` for frames)."""
    p = Path(source)
    return Path(f"{p.stem if p.is_file() else p.resolve().name}_analysis")


def make_engine(cfg: AnalyzeConfig) -> PoseEstimator:
    """The real BlazePose engine configured for multi-person video."""
    from edgepose.inference.engine import EngineConfig, PoseEngine

    return PoseEngine(EngineConfig(landmark=cfg.model, max_people=cfg.people, threads=cfg.threads,
                                   tiles=cfg.tiles, detector_every=cfg.detector_every, smoothing=True))


@dataclass
class _Held:
    """A frame waiting for its poses' ids to become final (the image itself is not kept)."""

    index: int
    t: float
    source: str
    width: int
    height: int
    error: str | None
    poses: list[Pose]

    def row(self) -> dict:
        row: dict = {"source": self.source, "frame": self.index, "t": round(self.t, 4), "width": self.width,
                     "height": self.height, "poses": [p.to_json() for p in self.poses if p.id is not None]}
        if self.error:
            row["error"] = self.error
        return row


def track_to_jsonl(reader: FrameReader, out_path: Path, engine: PoseEstimator, tracker: Tracker,
                   progress: Callable[[int, bool], None] | None = None) -> PassResult:
    """Pass 1: engine + tracker over every frame, one flushed JSON line per frame.

    A decoding error midway ends the pass with everything read so far written and the error
    recorded in the result (the caller reports it); it does not lose the file.
    """
    res = PassResult(info=reader.info)
    held: deque[_Held] = deque()
    seen_ids: set[int] = set()
    t0 = time.monotonic()

    def emit(fh: TextIO, h: _Held) -> None:
        row = h.row()
        fh.write(json.dumps(row, separators=(",", ":")) + "\n")
        fh.flush()
        res.poses += len(row["poses"])
        res.frames_with_people += bool(row["poses"])
        seen_ids.update(p["id"] for p in row["poses"])

    out_path.parent.mkdir(parents=True, exist_ok=True)
    with open(out_path, "w") as fh:
        try:
            for rec in reader:
                if rec.image is None:
                    res.unreadable += 1
                    poses: list[Pose] = []
                    h, w = reader.info.height, reader.info.width
                else:
                    poses = tracker.update(engine.process(rec.image, rec.t), rec.image)
                    h, w = rec.image.shape[:2]
                    res.t_last = rec.t
                held.append(_Held(rec.index, rec.t, rec.source, int(w), int(h), rec.error, poses))
                while len(held) > tracker.latency:
                    emit(fh, held.popleft())
                res.frames += 1
                if progress:
                    progress(res.frames, False)
        except Exception as e:                        # a decoder crash midway: keep what we have
            res.error = f"{reader.path}: reading stopped at frame {res.frames}: {e}"
            log.error(res.error)
        finally:
            while held:
                emit(fh, held.popleft())
    res.seconds = time.monotonic() - t0
    res.ids = len(seen_ids)
    res.truncated = reader.truncated
    res.vfr = reader.vfr
    if progress:
        progress(res.frames, True)
    return res
