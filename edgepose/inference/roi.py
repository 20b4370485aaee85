"""Rotated square regions of interest and the affine maps between an image and a model crop.

Conventions (MediaPipe's): image y points down; a rotation ``r`` (radians) maps a vector in the
crop's frame to the image by ``[[cos r, -sin r], [sin r, cos r]]``; an upright person has
rotation 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Roi:
    """A square region: centre and side in pixels, rotation in radians."""

    cx: float
    cy: float
    size: float
    rotation: float = 0.0

    def crop_to_image(self, out_size: int) -> np.ndarray:
        """2x3 affine matrix taking crop pixel ``(u, v)`` to image pixel ``(x, y)``."""
        s = self.size / out_size
        c, n = math.cos(self.rotation), math.sin(self.rotation)
        a = np.array([[c * s, -n * s], [n * s, c * s]], dtype=np.float64)
        t = np.array([self.cx, self.cy]) - a @ np.array([out_size / 2.0, out_size / 2.0])
        return np.hstack([a, t[:, None]])

    def crop(self, image: np.ndarray, out_size: int, border: int = cv2.BORDER_REPLICATE) -> np.ndarray:
        m = self.crop_to_image(out_size)
        return cv2.warpAffine(image, m, (out_size, out_size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=border)

    def project(self, pts: np.ndarray, out_size: int) -> np.ndarray:
        """Crop pixel coordinates ``(N, 2)`` to image pixel coordinates."""
        m = self.crop_to_image(out_size)
        return pts @ m[:, :2].T + m[:, 2]

    def corners(self) -> np.ndarray:
        """The four corners in image pixels (for drawing)."""
        return self.project(np.array([[0, 0], [1, 0], [1, 1], [0, 1]], float), 1)

    def contains(self, x: float, y: float, margin: float = 0.0) -> bool:
        c, n = math.cos(self.rotation), math.sin(self.rotation)
        dx, dy = x - self.cx, y - self.cy
        u, v = c * dx + n * dy, -n * dx + c * dy
        h = self.size / 2 * (1 + margin)
        return abs(u) <= h and abs(v) <= h


def normalize_radians(a: float) -> float:
    return a - 2 * math.pi * math.floor((a + math.pi) / (2 * math.pi))


def roi_from_alignment(center: np.ndarray, scale_point: np.ndarray, scale: float = 1.25,
                       target_angle: float = math.pi / 2) -> Roi:
    """The ROI MediaPipe builds from two alignment points (pixels).

    The side is twice the centre-to-scale-point distance, enlarged by ``scale``; the rotation
    turns the centre→scale-point vector to point up in the crop.
    """
    x0, y0 = float(center[0]), float(center[1])
    x1, y1 = float(scale_point[0]), float(scale_point[1])
    size = 2.0 * math.hypot(x1 - x0, y1 - y0) * scale
    rotation = normalize_radians(target_angle - math.atan2(-(y1 - y0), x1 - x0))
    return Roi(x0, y0, size, rotation)
