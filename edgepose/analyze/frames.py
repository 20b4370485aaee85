"""Every frame of a recorded video or of a folder of frames, with its time, for offline analysis.

A video's frame times come from the container's timestamps (``CAP_PROP_POS_MSEC``), so a
variable-frame-rate file keeps its real timing; a folder's frames are read in file-name order at
a nominal rate. Nothing is dropped: analysis wants every frame.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edgepose.capture.media import IMAGE_EXTS, read_frames
from edgepose.errors import SourceError

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = tuple(sorted(IMAGE_EXTS))  # the one list (edgepose.capture.media)


@dataclass(frozen=True)
class SourceInfo:
    """What is known about an input before it is read.

    Attributes
    ----------
    path: the input as the user named it.
    kind: ``"video"`` or ``"frames"``.
    frames: frame count the container claims (videos: may be wrong) or the number of image files.
    fps: nominal frame rate (container's, or the one given for a folder).
    width, height: size of the first frame.
    """

    path: str
    kind: str
    frames: int
    fps: float
    width: int
    height: int


@dataclass
class FrameRecord:
    """One frame: ``image`` is None when the frame could not be read (``error`` says why)."""

    index: int
    t: float
    source: str
    image: np.ndarray | None
    error: str | None = None


class FrameReader:
    """Iterates the frames of ``path`` (a video file or a folder of images).

    Parameters
    ----------
    path:
        Video file or folder of frames.
    folder_fps:
        Frame rate assumed for a folder of frames (their file names carry no time).

    Raises
    ------
    SourceError
        The path does not exist, holds no frames, or is not a video OpenCV can decode.
    """

    def __init__(self, path: str | Path, folder_fps: float = 30.0):
        self.path = str(path)
        p = Path(path)
        self.truncated = False
        self.vfr = False
        self.read_count = 0
        if not p.exists():
            raise SourceError(f"{path}: no such file or folder; give a video file or a folder of frames")
        if p.is_dir():
            self._files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_EXTENSIONS)
            if not self._files:
                raise SourceError(f"{path}: the folder holds no images ({', '.join(IMAGE_EXTENSIONS)})")
            if folder_fps <= 0:
                raise SourceError(f"--fps must be positive, got {folder_fps}")
            first = None
            for f in self._files:
                first = cv2.imread(str(f))
                if first is not None:
                    break
            if first is None:
                raise SourceError(f"{path}: none of its {len(self._files)} images can be decoded")
            h, w = first.shape[:2]
            self.info = SourceInfo(self.path, "frames", len(self._files), folder_fps, w, h)
            self._cap = None
        else:
            self._files = []
            cap = cv2.VideoCapture(str(p))
            ok, first = cap.read() if cap.isOpened() else (False, None)
            if not ok or first is None:
                cap.release()
                raise SourceError(
                    f"{path}: not a video OpenCV can decode (corrupt, empty or an unsupported codec); "
                    f"check it with `ffprobe {path}` or re-encode it to H.264 MP4")
            fps = cap.get(cv2.CAP_PROP_FPS)
            claimed = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
            h, w = first.shape[:2]
            cap.release()
            self.info = SourceInfo(self.path, "video", max(claimed, 1), fps if 0 < fps < 1000 else 30.0, w, h)
            self._cap = None

    def __iter__(self) -> Iterator[FrameRecord]:
        if self.info.kind == "frames":
            yield from self._iter_folder()
        else:
            yield from self._iter_video()

    def _iter_folder(self) -> Iterator[FrameRecord]:
        dt = 1.0 / self.info.fps
        for i, f in enumerate(self._files):
            img = cv2.imread(str(f))
            err = None
            if img is None:
                err = f"{f}: cannot decode this image (corrupt or not an image); it was skipped"
                log.warning(err)
            elif img.shape[:2] != (self.info.height, self.info.width):
                log.info("%s is %dx%d, the first frame %dx%d", f, img.shape[1], img.shape[0],
                         self.info.width, self.info.height)
            self.read_count += 1
            yield FrameRecord(i, i * dt, str(f), img, err)

    def _iter_video(self) -> Iterator[FrameRecord]:
        cap = cv2.VideoCapture(self.path)
        nominal = 1.0 / self.info.fps
        last_t = -1.0
        gaps: list[float] = []
        n = 0  # frames read in this pass
        try:
            for i, t, img in read_frames(cap, self.info.fps):
                n += 1
                if t <= last_t:            # a container without usable timestamps
                    t = last_t + nominal
                if i > 0:
                    gaps.append(t - last_t)
                last_t = t
                self.read_count += 1
                yield FrameRecord(i, t, self.path, img)
        finally:
            cap.release()
        if gaps and len(gaps) >= 3:
            g = np.asarray(gaps)
            med = float(np.median(g))
            if med > 0 and float(np.mean(np.abs(g - med) > 0.25 * med)) > 0.05:
                self.vfr = True
                log.warning("%s has a variable frame rate (frame gaps %.0f-%.0f ms): frame times come "
                            "from the file's timestamps", self.path, g.min() * 1000, g.max() * 1000)
        claimed = self.info.frames
        # Containers often over-count by a few frames; a big shortfall means the file broke midway.
        if claimed > 1 and n < claimed - max(5, 0.02 * claimed):
            self.truncated = True
            log.warning("%s: decoding stopped after %d of the %d frames the file claims (truncated or "
                        "corrupt); the results cover the frames read", self.path, n, claimed)
