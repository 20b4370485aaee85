"""``edgepose infer``: poses for images, folders of images and videos, as JSON Lines."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import numpy as np

from edgepose.capture.media import MediaItem, expand, frames_of_video, read_image
from edgepose.errors import SourceError
from edgepose.inference.engine import EngineConfig, PoseEngine, make_engine
from edgepose.pose import Pose

log = logging.getLogger(__name__)


def frame_record(source: str, frame: int, t: float, image: np.ndarray, poses: list[Pose]) -> dict:
    """One line of the ``edgepose infer`` format (docs/formats.md)."""
    h, w = image.shape[:2]
    return {"source": source, "frame": frame, "t": round(float(t), 4), "width": int(w), "height": int(h),
            "poses": [p.to_json() for p in poses]}


def error_record(source: str, message: str, frame: int = 0) -> dict:
    return {"source": source, "frame": frame, "error": message, "poses": []}


def infer_to(out: IO[str], items: list[MediaItem], engine: PoseEngine,
             progress: Callable[[str], None] | None = None) -> int:
    """Write one JSON line per image or frame; return how many inputs failed."""
    failed = 0
    for item in items:
        t0 = time.monotonic()
        try:
            if item.kind == "image":
                img = read_image(item.path)
                out.write(json.dumps(frame_record(item.source, 0, 0.0, img, engine.detect_image(img))) + "\n")
                n = 1
            else:
                engine.reset()
                n = 0
                try:
                    for i, t, img in frames_of_video(item.path):
                        out.write(json.dumps(frame_record(item.source, i, t, img, engine.process(img, t))) + "\n")
                        n += 1
                except SourceError as e:
                    if n == 0:
                        raise
                    log.warning("%s", e)
                engine.reset()
        except (SourceError, ValueError) as e:
            failed += 1
            out.write(json.dumps(error_record(item.source, str(e))) + "\n")
            log.error("%s", e)
            continue
        finally:
            out.flush()
        if progress:
            dt = time.monotonic() - t0
            progress(f"{item.source}: {n} frame(s) in {dt:.2f} s")
    return failed


def run_infer(paths: list[str], out_path: Path, config: EngineConfig,
              progress: Callable[[str], None] | None = None) -> int:
    items = expand(paths)
    engine = make_engine(config)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with open(out_path, "w") as out:
        return infer_to(out, items, engine, progress)
