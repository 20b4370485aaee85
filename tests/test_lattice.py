"""The lattice of final-view ROIs (edgepose.inference.lattice): exact, and continuous in the ROI."""

import math

import numpy as np
import pytest

from edgepose.inference import lattice
from edgepose.inference.roi import Roi


def _coords(r: Roi) -> np.ndarray:
    step = lattice._centre_step(r.size)
    return np.array([r.cx / step, r.cy / step, math.log2(r.size) * lattice.SIZE_STEPS,
                     r.rotation * lattice.ROTATION_STEPS / (2 * math.pi)])


ROIS = [Roi(321.37, 207.9, 183.4, 0.21), Roi(50.02, 612.5, 97.0, -1.3), Roi(800.0, 400.0, 256.0, 0.0),
        Roi(12.3, 45.6, 611.1, 3.0)]


@pytest.mark.parametrize("roi", ROIS)
def test_the_weighted_corners_are_the_roi(roi):
    corners = lattice.simplex_rois(roi)
    weights = np.array([w for _, w in corners])
    assert 1 <= len(corners) <= 5
    assert weights.sum() == pytest.approx(1.0)
    assert list(weights) == sorted(weights, reverse=True)
    # every corner is a lattice point of the ROI's own cell
    base = np.floor(_coords(roi))
    for c, _ in corners:
        u = _coords(c)
        assert np.allclose(u, np.round(u), atol=1e-6)
        assert np.all((np.round(u) - base >= 0) & (np.round(u) - base <= 1))
    # the barycentre gives the ROI back (up to the corners left out for weighing < MIN_WEIGHT)
    mean = sum(w * _coords(c) for c, w in corners)
    assert np.abs(mean - _coords(roi)).max() < 5 * lattice.MIN_WEIGHT


def test_with_no_corner_left_out_the_roi_is_reproduced_exactly(monkeypatch):
    monkeypatch.setattr(lattice, "MIN_WEIGHT", 0.0)
    for roi in ROIS:
        mean = sum(w * _coords(c) for c, w in lattice.simplex_rois(roi))
        assert np.allclose(mean, _coords(roi), atol=1e-9)


def test_a_sub_pixel_move_keeps_the_crops_and_moves_the_weights_a_little():
    """Corners are shared, and the weights are Lipschitz in the lattice coordinates: each is a
    difference of two sorted fractions, so it moves by at most twice the largest coordinate move
    (plus the share of the corners left out under MIN_WEIGHT)."""
    for roi in ROIS:
        moved = Roi(roi.cx + 0.3, roi.cy - 0.2, roi.size * 1.001, roi.rotation + 0.002)
        a, b = dict(lattice.simplex_rois(roi)), dict(lattice.simplex_rois(moved))
        assert len(set(a) & set(b)) >= min(len(a), len(b)) - 1
        bound = 2 * np.abs(_coords(moved) - _coords(roi)).max() + 5 * lattice.MIN_WEIGHT
        assert max(abs(a.get(c, 0.0) - b.get(c, 0.0)) for c in set(a) | set(b)) <= bound


def test_the_blend_is_barycentric_and_ignores_a_far_view():
    anchor = np.zeros((2, 2))
    xy = np.array([[[1.0, 0.0], [0.0, 0.0]], [[3.0, 0.0], [0.0, 0.0]], [[500.0, 0.0], [0.0, 0.0]]])
    aux = np.array([[[0.0, 0.0]], [[4.0, 0.0]], [[8.0, 0.0]]])
    kp, mean_aux = lattice.blend(xy, aux, np.array([0.5, 0.3, 0.2]), anchor, soft=10.0, anchor_weight=0.0)
    w = np.array([0.5 * math.exp(-0.01), 0.3 * math.exp(-0.09)])
    assert kp[0, 0] == pytest.approx((w * [1.0, 3.0]).sum() / w.sum())   # the view 500 px off: no weight
    assert mean_aux[0, 0] == pytest.approx(0.3 * 4 + 0.2 * 8)             # alignment: plain mean
    assert np.allclose(kp[1], 0.0)


def test_the_previous_estimate_stays_where_every_view_disagrees():
    """Every view over 4 x soft from the anchor: the anchor's small weight outweighs them (letting
    the views decide there cost PCK and AP on the infer set: docs/benchmarks.md)."""
    anchor = np.zeros((1, 2))
    xy = np.array([[[80.0, 0.0]], [[76.0, 2.0]], [[300.0, 0.0]]])
    kp, _ = lattice.blend(xy, np.zeros((3, 1, 2)), np.array([0.4, 0.4, 0.2]), anchor, soft=20.0, anchor_weight=0.001)
    assert abs(kp[0, 0]) < 0.5 and np.isfinite(kp).all()
    near = xy.copy()
    near[1, 0] = (10.0, 0.0)  # one view within soft: it decides
    kp, _ = lattice.blend(near, np.zeros((3, 1, 2)), np.array([0.4, 0.4, 0.2]), anchor, soft=20.0, anchor_weight=0.001)
    assert 9.0 < kp[0, 0] < 10.5
