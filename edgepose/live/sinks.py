"""Sinks of the ``edgepose run`` pipeline that write files: poses JSON Lines and video."""

from __future__ import annotations

import errno
import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from edgepose.errors import DiskFullError, EdgeposeError
from edgepose.inference.batch import frame_record
from edgepose.live.pipeline import Result

log = logging.getLogger(__name__)


class PosesWriter:
    """One ``edgepose infer``-format line per frame, flushed as it goes (a crash keeps what was written)."""

    def __init__(self, path: Path, source_name: str):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(path, "w")
        self.source_name = source_name
        self.lines = 0

    def __call__(self, res: Result) -> None:
        rec = frame_record(self.source_name, res.frame.seq, res.frame.t_media, res.frame.image, res.poses)
        self._fh.write(json.dumps(rec) + "\n")
        self.lines += 1
        if self.lines % 30 == 0:
            self._fh.flush()

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()


def letterbox(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``img`` scaled to fit ``size`` = (w, h) with its aspect kept, centred on black."""
    w, h = size
    ih, iw = img.shape[:2]
    k = min(w / iw, h / ih)
    nw, nh = max(1, round(iw * k)), max(1, round(ih * k))
    out = np.zeros((h, w, 3), np.uint8)
    x0, y0 = (w - nw) // 2, (h - nh) // 2
    interp = cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR
    out[y0:y0 + nh, x0:x0 + nw] = cv2.resize(img, (nw, nh), interpolation=interp)
    return out


class VideoRecorder:
    """Writes each frame, drawn by ``render``, to an MP4 file; stops cleanly when the disk fills."""

    def __init__(self, path: Path, fps: float, render: Callable[[Result], np.ndarray],
                 min_free_bytes: int = 64 << 20):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.fps, self.render = path, fps, render
        self.min_free_bytes = min_free_bytes
        self._writer: cv2.VideoWriter | None = None
        self._size = (0, 0)
        self.frames = 0
        self.letterboxed = 0  # frames of another size, fitted into the first frame's size

    def __call__(self, res: Result) -> None:
        # checked before the writer opens too: on a full disk OpenCV only says it cannot open
        if self.frames % 100 == 0 and shutil.disk_usage(self.path.parent).free < self.min_free_bytes:
            self.close()
            raise DiskFullError(errno.ENOSPC, f"No space left on device (less than {self.min_free_bytes >> 20} MiB "
                                f"free at {self.path.parent}); recording stopped at frame {self.frames} "
                                "(the file so far is kept). Free space or record elsewhere.")
        img = self.render(res)
        if self._writer is None:
            h, w = img.shape[:2]
            self._size = (w, h)
            self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
            if not self._writer.isOpened():
                raise EdgeposeError(f"cannot write video {self.path}: check the folder exists and is writable")
        if img.shape[:2] != (self._size[1], self._size[0]):
            if not self.letterboxed:
                log.warning("recording %s: frames of another size than the first (%dx%d) are letterboxed into it",
                            self.path, *self._size)
            self.letterboxed += 1
            img = letterbox(img, self._size)
        self._writer.write(img)
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
