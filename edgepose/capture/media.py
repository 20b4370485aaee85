"""What a path names: an image, a folder of images, or a video; and reading them."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edgepose.errors import SourceError

log = logging.getLogger(__name__)

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm"}
VIDEO_EXTS = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".h264", ".ts"}


@dataclass(frozen=True)
class MediaItem:
    """One input: ``kind`` is ``"image"`` or ``"video"``; ``source`` is the path as given."""

    source: str
    path: Path
    kind: str


def expand(paths: list[str]) -> list[MediaItem]:
    """Images, folders (their images in name order) and videos, in the order given."""
    out: list[MediaItem] = []
    for s in paths:
        p = Path(s)
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_EXTS)
            out += [MediaItem(str(f) if s.endswith("/") else str(Path(s) / f.name), f, "image") for f in files]
        elif p.suffix.lower() in VIDEO_EXTS:
            out.append(MediaItem(s, p, "video"))
        else:
            out.append(MediaItem(s, p, "image"))
    return out


def read_image(path: Path) -> np.ndarray:
    """A BGR uint8 image (EXIF orientation applied), or :class:`SourceError` saying why not."""
    if not path.exists():
        raise SourceError(f"{path}: no such file")
    if path.is_dir():
        raise SourceError(f"{path}: is a folder")
    data = np.fromfile(str(path), dtype=np.uint8)
    if data.size == 0:
        raise SourceError(f"{path}: empty file")
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if img is None:
        raise SourceError(f"{path}: not an image OpenCV can decode")
    return img


def read_frames(cap: cv2.VideoCapture, fps: float) -> Iterator[tuple[int, float, np.ndarray]]:
    """The one read loop over an opened video: ``(index, seconds, BGR image)`` per decodable frame.

    Time: 0 for the first frame, then the container's timestamp, else ``index / fps`` (for
    containers without timestamps). Used by :class:`edgepose.capture.sources.VideoFileSource`,
    :func:`frames_of_video` and :class:`edgepose.analyze.frames.FrameReader`.
    """
    i = 0
    while True:
        ok, img = cap.read()
        if not ok or img is None:
            return
        pos = cap.get(cv2.CAP_PROP_POS_MSEC)
        yield i, 0.0 if i == 0 else (pos / 1000.0 if pos and pos > 0 else i / fps), img
        i += 1


def video_fps(cap: cv2.VideoCapture, default: float = 30.0) -> float:
    """The frame rate a video claims, or ``default`` when it claims none (or nonsense)."""
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    return fps if 0 < fps < 1000 else default


def frames_of_video(path: Path) -> Iterator[tuple[int, float, np.ndarray]]:
    """``(index, seconds, BGR image)`` for every decodable frame of a video file."""
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise SourceError(f"{path}: not a video OpenCV can open")
    try:
        n = 0
        for i, t, img in read_frames(cap, video_fps(cap)):
            n += 1
            yield i, t, img
        if n == 0:
            raise SourceError(f"{path}: no decodable frames")
    finally:
        cap.release()
