"""Frame sources behind one small protocol.

``open_source(spec)`` understands: a video file, a folder of images (name order), a USB camera
index (``"0"``), an RTSP/HTTP URL, a GStreamer pipeline string (contains ``!``, e.g. a Jetson CSI
camera through ``nvarguscamerasrc``) and ``"picam"`` (Raspberry Pi camera through picamera2).

Files and folders are *lossless* (every frame, in order); cameras and streams are *live*: the
pipeline keeps only the newest frame. A live source that fails is reopened with back-off and the
gap is reported; a file that ends ends the run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from edgepose.capture.frame import ClosingSource, Frame
from edgepose.capture.media import IMAGE_EXTS, VIDEO_EXTS, read_frames, read_image
from edgepose.errors import SourceError

log = logging.getLogger(__name__)


class Source(Protocol):
    """Yields frames until the source ends or :meth:`close` is called."""

    name: str
    live: bool
    fps: float

    def frames(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...


class VideoFileSource(ClosingSource):
    """Every frame of a video file, with its time in the file.

    ``realtime``: hand the frames out no faster than the file's own clock (a person watching the
    clip on the screen), instead of as fast as they decode (analysis, recording).
    """

    live = False
    realtime = False

    def __init__(self, path: str):
        self.name = path
        self.path = Path(path)
        if not self.path.is_file():
            raise SourceError(f"{path}: no such video file")
        self._cap = cv2.VideoCapture(str(self.path))
        if not self._cap.isOpened():
            raise SourceError(f"{path}: OpenCV cannot open it as a video (corrupt, or an unsupported codec)")
        self.fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0) or 30.0
        self.frame_count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self._closed = False

    def frames(self) -> Iterator[Frame]:
        n = 0
        if not self._closed:
            start = time.monotonic()
            for i, t, img in read_frames(self._cap, self.fps):
                if self._closed:
                    break
                if self.realtime:
                    wait = start + t - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                yield Frame(i, time.monotonic_ns(), img, t, self.name)
                n += 1
        if n == 0 and not self._closed:
            raise SourceError(f"{self.name}: no decodable frames")

    def close(self) -> None:
        self._closed = True
        self._cap.release()


class ImageFolderSource(ClosingSource):
    """The images of a folder in name order, as a lossless video at ``fps``."""

    live = False

    def __init__(self, path: str, fps: float = 25.0):
        self.name = path
        self.files = sorted(f for f in Path(path).iterdir() if f.suffix.lower() in IMAGE_EXTS)
        if not self.files:
            raise SourceError(f"{path}: no images in this folder")
        self.fps = fps
        self.frame_count = len(self.files)
        self._closed = False

    def frames(self) -> Iterator[Frame]:
        for i, f in enumerate(self.files):
            if self._closed:
                return
            yield Frame(i, time.monotonic_ns(), read_image(f), i / self.fps, str(f))

    def close(self) -> None:
        self._closed = True


class LiveOpenCVSource(ClosingSource):
    """A USB camera, RTSP/HTTP stream or GStreamer pipeline; reopened with back-off when lost."""

    live = True

    def __init__(self, spec: str, width: int | None = None, height: int | None = None,
                 max_backoff_s: float = 8.0, give_up_after_s: float | None = None):
        self.name = spec
        self.spec = spec
        self.width, self.height = width, height
        self.max_backoff_s = max_backoff_s
        self.give_up_after_s = give_up_after_s
        self.gaps: list[tuple[float, float]] = []  # (monotonic start, seconds) of each outage
        # on_event(kind, detail) is told "camera_lost" and "camera_back" (the device reports them).
        self.on_event: Callable[[str, dict], None] | None = None
        self._closed = False
        self._cap = self._open()
        if self._cap is None:
            raise SourceError(self._hint())
        self.fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0) or 30.0
        self.frame_count = 0

    def _hint(self) -> str:
        if self.spec.isdigit():
            return (f"camera {self.spec} could not be opened: is it plugged in (ls /dev/video*), and is the "
                    "user in the 'video' group?")
        return f"stream {self.spec} could not be opened: check the URL or pipeline and that it is reachable"

    def _open(self) -> cv2.VideoCapture | None:
        if self.spec.isdigit():
            cap = cv2.VideoCapture(int(self.spec))
        elif "!" in self.spec:
            cap = cv2.VideoCapture(self.spec, cv2.CAP_GSTREAMER)
        else:
            cap = cv2.VideoCapture(self.spec)
        if not cap.isOpened():
            cap.release()
            return None
        if self.width and self.height:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        return cap

    def frames(self) -> Iterator[Frame]:
        seq, t0 = 0, time.monotonic()
        while not self._closed:
            ok, img = (self._cap.read() if self._cap is not None else (False, None))
            if ok and img is not None:
                now = time.monotonic_ns()
                yield Frame(seq, now, img, now / 1e9 - t0, self.name)
                seq += 1
                continue
            gap_start = time.monotonic()
            log.warning("%s: lost; reopening with back-off", self.name)
            self._emit("camera_lost", {"source": self.name})
            if self._cap is not None:
                self._cap.release()
            self._cap, delay = None, 0.25
            while not self._closed and self._cap is None:
                if self.give_up_after_s is not None and time.monotonic() - gap_start > self.give_up_after_s:
                    raise SourceError(f"{self.name}: gone for {self.give_up_after_s:.0f} s; {self._hint()}")
                time.sleep(delay)
                delay = min(self.max_backoff_s, delay * 2)
                self._cap = self._open()
            self.gaps.append((gap_start, time.monotonic() - gap_start))
            if self._cap is not None:
                log.warning("%s: back after %.1f s", self.name, self.gaps[-1][1])
                self._emit("camera_back", {"source": self.name, "gap_s": round(self.gaps[-1][1], 2)})

    def _emit(self, kind: str, detail: dict) -> None:
        if self.on_event is not None:
            try:
                self.on_event(kind, detail)
            except Exception:  # noqa: BLE001 - reporting must never stop the capture
                log.warning("camera event handler failed", exc_info=True)

    def close(self) -> None:
        self._closed = True
        if self._cap is not None:
            self._cap.release()


def open_source(spec: str, width: int | None = None, height: int | None = None) -> Source:
    """The right source for what the user typed (see the module docstring)."""
    if spec == "picam":
        from edgepose.capture.picam import PicameraSource

        return PicameraSource(width or 640, height or 480)
    p = Path(spec)
    if p.is_dir():
        return ImageFolderSource(spec)
    if p.suffix.lower() in VIDEO_EXTS or p.is_file():
        if p.suffix.lower() in IMAGE_EXTS:
            return _SingleImageSource(spec)
        return VideoFileSource(spec)
    if spec.isdigit() or "://" in spec or "!" in spec:
        return LiveOpenCVSource(spec, width, height)
    raise SourceError(f"{spec}: no such file or folder, and not a camera index, URL, GStreamer pipeline or 'picam'")


class _SingleImageSource(ClosingSource):
    live = False
    fps = 1.0
    frame_count = 1

    def __init__(self, path: str):
        self.name = path
        self._img: np.ndarray = read_image(Path(path))

    def frames(self) -> Iterator[Frame]:
        yield Frame(0, time.monotonic_ns(), self._img, 0.0, self.name)

    def close(self) -> None:
        pass
