"""MoveNet SinglePose (Lightning 192 px / Thunder 256 px, INT8 or float) with crop-region tracking.

The model takes one square RGB crop (0-255 pixels: uint8 in Google's published TFLite files,
int32 in the ones `edgepose models fetch movenet-lightning` converts from Google's TF.js model) and
returns ``[1, 1, 17, 3]``: per COCO keypoint ``(y, x, score)`` normalised to the crop. Accuracy
depends on the crop: on video the next crop is a square around the hips sized from the torso and
the body's extent in the last frame (the scheme of MoveNet's own tutorial); with nobody
confidently seen it falls back to the whole frame padded to a square.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edgepose.inference import runtime
from edgepose.pose import Pose
from edgepose.skeleton import COCO_INDEX

MIN_SCORE = 0.2
_TORSO = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")


@dataclass(frozen=True)
class Crop:
    """A square crop in normalised image coordinates (may extend past the image)."""

    y0: float
    x0: float
    h: float
    w: float


def full_crop(width: int, height: int) -> Crop:
    """The whole frame padded to a square, centred."""
    if width > height:
        return Crop((height - width) / 2 / height, 0.0, width / height, 1.0)
    return Crop(0.0, (width - height) / 2 / width, 1.0, height / width)


def next_crop(kp: np.ndarray, width: int, height: int) -> Crop:
    """The crop for the next frame from keypoints ``(17, 3)`` = (x_px, y_px, score)."""
    idx = [COCO_INDEX[n] for n in _TORSO]
    if not ((kp[idx[2], 2] > MIN_SCORE or kp[idx[3], 2] > MIN_SCORE)
            and (kp[idx[0], 2] > MIN_SCORE or kp[idx[1], 2] > MIN_SCORE)):
        return full_crop(width, height)
    cx = (kp[idx[2], 0] + kp[idx[3], 0]) / 2
    cy = (kp[idx[2], 1] + kp[idx[3], 1]) / 2
    torso = max(max(abs(cx - kp[i, 0]), abs(cy - kp[i, 1])) for i in idx)
    seen = kp[kp[:, 2] > MIN_SCORE]
    body = float(np.max(np.maximum(np.abs(seen[:, 0] - cx), np.abs(seen[:, 1] - cy)))) if len(seen) else 0.0
    half = max(torso * 1.9, body * 1.2)
    half = min(half, max(cx, width - cx, cy, height - cy))
    if half > max(width, height) / 2:
        return full_crop(width, height)
    return Crop((cy - half) / height, (cx - half) / width, 2 * half / height, 2 * half / width)


def crop_image(image: np.ndarray, crop: Crop, size: int) -> np.ndarray:
    """Crop (zero padded outside the image) and resize to ``size`` x ``size``."""
    h, w = image.shape[:2]
    sx, sy = size / (crop.w * w), size / (crop.h * h)
    m = np.array([[sx, 0, -crop.x0 * w * sx], [0, sy, -crop.y0 * h * sy]], np.float64)
    return cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def decode(out: np.ndarray, crop: Crop, width: int, height: int) -> np.ndarray:
    """Model output ``[1, 1, 17, 3]`` (y, x, score in the crop) → ``(17, 3)`` image pixels + score."""
    k = np.asarray(out, np.float64).reshape(17, 3)
    x = (crop.x0 + k[:, 1] * crop.w) * width
    y = (crop.y0 + k[:, 0] * crop.h) * height
    return np.stack([x, y, k[:, 2]], axis=1).astype(np.float32)


class MoveNetEngine:
    """Single-person MoveNet with the same interface as :class:`~edgepose.inference.engine.PoseEngine`."""

    def __init__(self, model_path: str | Path, threads: int = 2, delegate: str | None = None,
                 min_pose_score: float = 0.25):
        self.model = runtime.load(model_path, threads, delegate, expect_outputs=[(1, 1, 17, 3)])
        shape = self.model.inputs[0].shape
        if len(shape) != 4 or shape[1] != shape[2] or shape[3] != 3:
            raise runtime.ModelError(f"{model_path}: input {shape} is not a square RGB MoveNet input")
        self.size = int(shape[1])
        self.dtype = self.model.inputs[0].dtype
        self.min_pose_score = min_pose_score
        self._crop: Crop | None = None

    def _run(self, image: np.ndarray, crop: Crop) -> np.ndarray:
        x = cv2.cvtColor(crop_image(image, crop, self.size), cv2.COLOR_BGR2RGB)
        x = x.astype(self.dtype if self.dtype in (np.uint8, np.int32) else np.float32)[None]
        h, w = image.shape[:2]
        return decode(self.model.run(x)[0], crop, w, h)

    def _pose(self, kp: np.ndarray) -> list[Pose]:
        score = float(np.mean(kp[:, 2]))
        return [Pose(kp, score, layout="coco17")] if score >= self.min_pose_score else []

    def detect_image(self, image: np.ndarray) -> list[Pose]:
        h, w = image.shape[:2]
        if min(h, w) < 8:
            return []
        kp = self._run(image, full_crop(w, h))
        # A second look on the crop the first answer gives, as on video.
        kp2 = self._run(image, next_crop(kp, w, h))
        return self._pose(kp2 if kp2[:, 2].mean() >= kp[:, 2].mean() else kp)

    def process(self, image: np.ndarray, t: float) -> list[Pose]:
        h, w = image.shape[:2]
        if min(h, w) < 8:
            self.reset()
            return []
        crop = self._crop or full_crop(w, h)
        kp = self._run(image, crop)
        self._crop = next_crop(kp, w, h)
        return self._pose(kp)

    def reset(self) -> None:
        self._crop = None

    def close(self) -> None:
        self.reset()
