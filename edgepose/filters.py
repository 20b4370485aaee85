"""One Euro filter for keypoint streams (Casiez, Roussel, Vogel, CHI 2012).

Low jitter when a joint is still, low lag when it moves: the cut-off frequency rises with the
joint's speed. Positions are divided by the person's size before filtering, so the same
parameters suit a person near the camera and one far away.
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

    def __init__(self, min_cutoff: float = 1.5, beta: float = 8.0, d_cutoff: float = 1.0):
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    def reset(self) -> None:
        self._x = self._dx = self._t = None

    def __call__(self, x: np.ndarray, t: float, scale: float = 1.0) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        scale = max(scale, 1e-6)
        xs = x / scale
        if self._x is None or self._t is None or t <= self._t or self._x.shape != xs.shape:
            self._x, self._dx, self._t = xs, np.zeros_like(xs), t
            return x.copy()
        dt = t - self._t
        self._t = t
        dx = (xs - self._x) / dt
        a_d = _alpha(self.d_cutoff, dt)
        self._dx = a_d * dx + (1 - a_d) * self._dx
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
        tau = 1.0 / (2.0 * np.pi * cutoff)
        a = 1.0 / (1.0 + tau / dt)
        self._x = a * xs + (1 - a) * self._x
        return self._x * scale
