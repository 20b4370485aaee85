"""One Euro filter for keypoint streams (Casiez, Roussel, Vogel, CHI 2012).

Low jitter when a joint is still, low lag when it moves: the cut-off frequency rises with the
joint's speed. Positions are filtered in their own units (pixels); the speed that raises the
cut-off is measured in body sizes per second (``scale``), so the same parameters suit a person
near the camera and one far away, and a person walking towards the camera (growing ``scale``)
does not look like a moving one. The speed estimate starts from the first step instead of from
zero, so a new track is not dragged behind at its start.

The defaults were chosen on real footage (docs/benchmarks.md, "Smoothing"): against the
annotated Bonn frames they cost no keypoint accuracy (mean OKS 0.886, unsmoothed 0.886), they
remove about a third of the frame-to-frame jitter on the shared clips and keep 98 % of the joint
angles' range of motion.
"""

from __future__ import annotations

import math

import numpy as np


def _alpha(cutoff: float, dt: float) -> float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """Filters an array of any fixed shape, sample by sample.

    Parameters
    ----------
    min_cutoff:
        Cut-off (Hz) at rest: lower is smoother.
    beta:
        How fast the cut-off rises with speed: higher is less lag.
    d_cutoff:
        Cut-off (Hz) for the speed estimate.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 40.0, d_cutoff: float = 1.0):
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    def reset(self) -> None:
        self._x = self._dx = self._t = None

    def __call__(self, x: np.ndarray, t: float, scale: float = 1.0) -> np.ndarray:
        """The filtered ``x`` at time ``t`` seconds; ``scale`` is the body's size in x's units."""
        x = np.asarray(x, dtype=np.float64)
        if self._x is None or self._t is None or t <= self._t or self._x.shape != x.shape:
            self._x, self._dx, self._t = x.copy(), None, t
            return x.copy()
        dt = t - self._t
        self._t = t
        speed = (x - self._x) / dt / max(scale, 1e-6)   # body sizes per second
        if self._dx is None:
            self._dx = speed
        else:
            a_d = _alpha(self.d_cutoff, dt)
            self._dx = a_d * speed + (1 - a_d) * self._dx
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
        a = 1.0 / (1.0 + 1.0 / (2.0 * np.pi * cutoff * dt))
        self._x = a * x + (1 - a) * self._x
        return self._x.copy()
