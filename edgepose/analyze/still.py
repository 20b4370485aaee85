"""Objects the pose model mistakes for a person: tracks that never move as a body does.

A notice board, a statue or a poster can hold a pose the landmark model believes in for
seconds, and a tracker follows it like anyone else. What no person does is stay pixel-still:
someone waiting or holding a yoga pose still breathes, sways, turns their head, and their
clothes move, so the pixels under them change from one second to the next; under a board only
compression noise and the light change.

:class:`ChangeProbe` keeps the last second of video in grey at half size and, for a pose, gives
the share of the pixels in its keypoint box that changed (by more than ``level`` grey levels
after a light blur) since the frame one second (``lag``) earlier, at the same place.
:func:`is_static` calls a track static when that share stays under ``max_change`` in almost all
of its measured frames (``quantile``) *and* its torso centre stays within ``max_travel`` body
heights: a track that moved, or whose pixels moved, in a tenth of its life is kept. A track
measured in too few frames is kept (nothing is known against it).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from edgepose.analyze.tracking import box_of


@dataclass(frozen=True)
class StillConfig:
    """When a track counts as a static object.

    Attributes
    ----------
    lag: seconds between the two frames compared.
    level: grey-level change (after a 5x5 blur, at half size) that counts as a pixel changing;
        compression noise on a still surface stays within 3-5.
    max_change: share of the box's pixels changed under which a frame is still.
    quantile: share of the measured frames that must be still (a person who moved in a tenth
        of their life is a person).
    max_travel: torso-centre travel (5th-95th percentile range, in body heights) a static
        track may show (keypoint jitter).
    min_measured: fewer measured frames than this: no verdict, the track is kept.
    """

    lag: float = 1.0
    level: int = 12
    max_change: float = 0.01
    quantile: float = 0.9
    max_travel: float = 0.3
    min_measured: int = 5


class ChangeProbe:
    """The last ``lag`` seconds of frames (grey, half size) and the pixel change under a pose."""

    def __init__(self, fps: float, config: StillConfig | None = None):
        self.config = config or StillConfig()
        self.lag = max(1, int(round(self.config.lag * (fps if fps > 0 else 30.0))))
        self._frames: deque[tuple[int, np.ndarray]] = deque(maxlen=self.lag + 1)

    def push(self, index: int, image: np.ndarray | None) -> None:
        """Hold frame ``index`` (None, an unreadable frame, forgets the frames before it)."""
        if image is None:
            self._frames.clear()
            return
        g = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        g = cv2.resize(g, (max(1, g.shape[1] // 2), max(1, g.shape[0] // 2)), interpolation=cv2.INTER_AREA)
        self._frames.append((index, cv2.GaussianBlur(g, (5, 5), 0)))

    def change(self, index: int, kp17: np.ndarray) -> float | None:
        """Share of the pixels in the pose's keypoint box (``(17, 3)`` COCO-17, full-size pixels)
        that changed between frame ``index`` and ``lag`` frames before; None when either frame
        is not held or the box is empty."""
        if len(self._frames) < 2:
            return None
        last_i, last = self._frames[-1]
        first_i, first = self._frames[0]
        if last_i != index or last_i - first_i != self.lag:
            return None
        b = box_of(kp17[:, :2], kp17[:, 2], 0.3) / 2
        h, w = last.shape[:2]
        x0, y0 = int(max(0, np.floor(b[0]))), int(max(0, np.floor(b[1])))
        x1, y1 = int(min(w, np.ceil(b[2]) + 1)), int(min(h, np.ceil(b[3]) + 1))
        if x1 - x0 < 3 or y1 - y0 < 3:
            return None
        d = cv2.absdiff(last[y0:y1, x0:x1], first[y0:y1, x0:x1])
        return float((d > self.config.level).mean())


def travel(kps17: np.ndarray) -> float:
    """Torso-centre travel of a track, ``(n, 17, 3)`` poses: the 5th-95th percentile range of
    the shoulders-and-hips centre, in median body heights (the keypoint box's)."""
    c = kps17[:, [5, 6, 11, 12], :2].mean(axis=1)
    span = np.percentile(c, 95, axis=0) - np.percentile(c, 5, axis=0)
    hs = [float(b[3] - b[1]) for b in (box_of(k[:, :2], k[:, 2], 0.3) for k in kps17)]
    return float(np.hypot(*span) / max(1.0, float(np.median(hs))))


def is_static(changes: list[float | None], kps17: np.ndarray, config: StillConfig | None = None) -> bool:
    """Whether a track is a static object (see the module docstring): ``changes`` are its
    frames' :meth:`ChangeProbe.change` values (None: not measured), ``kps17`` its poses."""
    cfg = config or StillConfig()
    got = np.array([c for c in changes if c is not None], float)
    if len(got) < cfg.min_measured or len(kps17) < 2:
        return False
    if float(np.quantile(got, cfg.quantile)) > cfg.max_change:
        return False
    return travel(np.asarray(kps17, float)) <= cfg.max_travel
