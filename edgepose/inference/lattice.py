"""ROIs on a fixed lattice, blended so that the result moves continuously with the ROI.

The landmark network is chaotic at the sub-pixel scale: the same person cropped half a pixel
or a few tenths of a degree differently gets keypoints several per cent of their height apart
(docs/benchmarks.md, "noise stability"). Every ROI comes from model outputs that imperceptible
image noise moves by about a pixel, so the crop always changes a little, and the keypoints with it.

Snapping the ROI to a lattice makes the two crops identical, but it jumps when the ROI crosses
a cell boundary, and a snapped ROI is up to half a step off the model's own. Here instead the
ROI's lattice coordinates ``(cx, cy, log2 side, rotation)`` pick the 5 corners of the
Kuhn simplex of its cell that holds it, with barycentric weights: the weighted mean of the
network's answers on those 5 fixed crops is a piecewise-linear function of the ROI. A small move
of the ROI changes only the weights, a little, while the crops stay the same pixels.
"""

from __future__ import annotations

import math

import numpy as np

from edgepose.inference.roi import Roi

CENTRE_STEPS = 32     # lattice steps of the centre per ROI side (the side rounded to a power of two)
SIZE_STEPS = 16       # steps of the side per octave (2^(1/16): 4.4 %)
ROTATION_STEPS = 64   # steps of the rotation per turn (5.6 degrees)
MIN_WEIGHT = 0.02     # corners weighing less are not run (the result moves by at most this share)


def _centre_step(size: float) -> float:
    """The centre's lattice step: a power of two near ``size``, over :data:`CENTRE_STEPS`. It is
    the same for every ROI between two powers of two, so it changes only when the side crosses one."""
    return 2.0 ** math.floor(math.log2(max(size, 1.0)) + 0.5) / CENTRE_STEPS


def simplex_rois(roi: Roi) -> list[tuple[Roi, float]]:
    """The lattice ROIs around ``roi`` and their weights (summing to 1), heaviest first.

    Kuhn (Freudenthal) triangulation of the 4-D cell: with ``f`` the fractional parts of the
    lattice coordinates sorted in decreasing order, the corners are the cell's base corner and the
    ones reached by adding the unit steps in that order; the weights are the successive
    differences of ``f``. Corners under :data:`MIN_WEIGHT` are left out and the rest rescaled."""
    step = _centre_step(roi.size)
    u = np.array([roi.cx / step, roi.cy / step, math.log2(max(roi.size, 1.0)) * SIZE_STEPS,
                  roi.rotation * ROTATION_STEPS / (2.0 * math.pi)], np.float64)
    base = np.floor(u)
    f = u - base
    order = np.argsort(-f, kind="stable")
    fs = f[order]
    weights = np.concatenate([[1.0 - fs[0]], fs[:-1] - fs[1:], [fs[-1]]])
    corner = base.copy()
    out: list[tuple[Roi, float]] = []
    for k, w in enumerate(weights):
        if k:
            corner[order[k - 1]] += 1.0
        if w >= MIN_WEIGHT:
            out.append((Roi(corner[0] * step, corner[1] * step, 2.0 ** (corner[2] / SIZE_STEPS),
                            corner[3] * 2.0 * math.pi / ROTATION_STEPS), float(w)))
    total = sum(w for _, w in out)
    return sorted(((r, w / total) for r, w in out), key=lambda rw: -rw[1])


def blend(xy: np.ndarray, aux: np.ndarray, weights: np.ndarray, anchor: np.ndarray, soft: float,
          anchor_weight: float) -> tuple[np.ndarray, np.ndarray]:
    """(keypoints, alignment points) blended over the views of :func:`simplex_rois`.

    ``xy`` (views x keypoints x 2) and ``aux`` (views x points x 2) are the network's answers,
    ``weights`` each view's barycentric weight. A keypoint of a view further than about ``soft``
    pixels from ``anchor`` (the previous estimate) also counts less (``exp(-(d / soft)^2)``), so a
    view that sees another limb configuration does not drag it; ``anchor`` itself counts
    ``anchor_weight``, which only matters where every view is over ~2.6 ``soft`` from it: then
    the previous estimate stays. Letting the views decide there instead was measured and is worse
    overall (docs/benchmarks.md, "Lattice-blended final views"). The alignment points are the
    plain barycentric mean: they place the next round's ROI."""
    bary = np.asarray(weights, np.float64)[:, None, None]
    d = np.linalg.norm(xy - anchor[None], axis=2)[..., None]
    w = np.exp(-((d / soft) ** 2)) * bary
    kp = ((w * xy).sum(0) + anchor_weight * anchor) / (w.sum(0) + anchor_weight)
    return kp, (bary * aux).sum(0) / bary.sum()
