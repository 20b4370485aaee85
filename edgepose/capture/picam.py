"""Raspberry Pi camera through picamera2 (imported only when used).

picamera2 is configured before it starts, as data: a small RGB main stream sized for the model
(the pose models see 224-256 px, so 640x480 is plenty and keeps the ISP and memory cheap).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from edgepose.capture.frame import ClosingSource, Frame
from edgepose.errors import SourceError


class PicameraSource(ClosingSource):
    live = True

    def __init__(self, width: int = 640, height: int = 480, fps: float = 30.0):
        try:
            from picamera2 import Picamera2  # type: ignore[import-not-found]
        except ImportError:
            raise SourceError(
                "picamera2 is not installed: on Raspberry Pi OS run `sudo apt install python3-picamera2` and "
                "create the venv with --system-site-packages (firmware/rpi5/install.sh does both)"
            ) from None
        try:
            self._cam = Picamera2()
        except (RuntimeError, IndexError) as e:
            raise SourceError(f"no Raspberry Pi camera found ({e}): check the ribbon cable and "
                              "`rpicam-hello --list-cameras`") from e
        cfg = self._cam.create_video_configuration(
            main={"size": (width, height), "format": "RGB888"},
            controls={"FrameRate": fps},
            buffer_count=4,
        )
        self._cam.configure(cfg)
        self.name, self.fps, self.frame_count = "picam", fps, 0
        self._closed = False
        self._cam.start()

    def frames(self) -> Iterator[Frame]:
        seq, t0 = 0, time.monotonic()
        while not self._closed:
            # "RGB888" in libcamera's naming is B, G, R in memory: already OpenCV's BGR order.
            img = self._cam.capture_array("main")
            now = time.monotonic_ns()
            yield Frame(seq, now, img[:, :, :3], now / 1e9 - t0, self.name)
            seq += 1

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._cam.stop()
            self._cam.close()
