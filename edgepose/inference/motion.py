"""Where something moved in a static camera's view: search regions that need no face.

The BlazePose detector keys on a face, so a person seen from behind, back-lit, or too small for
its face to show is not found until they turn -- yet the landmark model, shown the right region,
is sure of them at once (the overhead-press clip: pose flag 1.0 from frame 0, found by the detector
only at frame 45). The appliance's camera stands still, so a person who moves is a region of
change. This keeps a short history of small, blurred grey frames; a pixel that changed by more
than a threshold against the frame ``lag`` frames earlier is marked, marks fade over about half a
second, and connected marked areas become regions, largest first. The engine only *proposes*
them: each goes through the landmark model like any detection, so a fan or a reflection (pose flag
near 0) is never a person. A scene where most of the frame changes (the camera moved, the lights
changed) proposes nothing.
"""

from __future__ import annotations

from collections import deque

import cv2
import numpy as np

WIDTH = 240           # analysis width (px); height keeps the aspect
LAG = 6               # compare with the frame this many frames back
THRESHOLD = 12        # grey levels of change that count as motion
DECAY = 0.85          # per frame: a mark fades below KEEP in about 8 frames
KEEP = 0.3
MIN_AREA = 0.004      # a region must cover this share of the frame...
MAX_MOVING = 0.5      # ...and no more than this share of the frame may be moving


class MotionRegions:
    """Regions of recent motion in a stream of frames from one fixed camera."""

    def __init__(self, width: int = WIDTH, lag: int = LAG):
        self.width, self.lag = width, lag
        self._frames: deque[np.ndarray] = deque(maxlen=lag + 1)
        self._history: np.ndarray | None = None
        self._scale = 1.0
        self._shape: tuple[int, int] | None = None

    def reset(self) -> None:
        self._frames.clear()
        self._history = None

    def update(self, image: np.ndarray) -> None:
        h, w = image.shape[:2]
        if self._shape != (h, w):
            self.reset()
            self._shape = (h, w)
        self._scale = self.width / w
        small = cv2.resize(image, (self.width, max(1, round(h * self._scale))), interpolation=cv2.INTER_AREA)
        grey = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (5, 5), 0).astype(np.int16)
        self._frames.append(grey)
        if len(self._frames) <= self.lag:
            return
        moved = (np.abs(grey - self._frames[0]) > THRESHOLD).astype(np.float32)
        self._history = moved if self._history is None else np.maximum(self._history * DECAY, moved)

    def regions(self, most: int = 3) -> list[tuple[float, float, float, float]]:
        """Up to ``most`` boxes ``(x, y, w, h)`` in the pixels of the frames given, largest first."""
        if self._history is None:
            return []
        marked = (self._history > KEEP).astype(np.uint8)
        if marked.mean() > MAX_MOVING:
            return []
        marked = cv2.dilate(marked, np.ones((9, 9), np.uint8))
        n, _, stats, _ = cv2.connectedComponentsWithStats(marked)
        boxes = [stats[i] for i in range(1, n) if stats[i][4] >= MIN_AREA * marked.size]
        boxes.sort(key=lambda s: -int(s[4]))
        k = 1.0 / self._scale
        return [(float(x) * k, float(y) * k, float(w) * k, float(h) * k) for x, y, w, h, _ in boxes[:most]]
