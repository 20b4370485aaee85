"""The BlazePose decoding maths on its own: anchors, weighted NMS, ROI geometry, heatmap refinement."""

from __future__ import annotations

import math

import numpy as np

from edgepose.inference.blazepose import (
    LANDMARK_SIZE,
    _sigmoid,
    refine_from_heatmap,
    ssd_anchors,
    weighted_nms,
)
from edgepose.inference.roi import Roi, roi_from_alignment


def test_anchor_grid_matches_the_detector_output():
    a = ssd_anchors()
    assert a.shape == (2254, 2)
    # stride 8: 28x28 cells, 2 anchors each, row-major from the top-left cell centre
    assert np.allclose(a[0], [0.5 / 28, 0.5 / 28]) and np.allclose(a[1], a[0])
    assert np.allclose(a[2], [1.5 / 28, 0.5 / 28])
    # the last 294 anchors: the 7x7 grid shared by the three stride-32 layers, 6 per cell
    assert np.allclose(a[-1], [6.5 / 7, 6.5 / 7]) and np.allclose(a[-6:], a[-1])


def test_weighted_nms_averages_a_cluster_and_keeps_neighbours():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], float)
    kps = np.zeros((3, 4, 2))
    kps[1] += 2.0
    out = weighted_nms(np.array([0.9, 0.6, 0.8]), boxes, kps, 0.3)
    assert len(out) == 2
    score, box, kp = out[0]
    assert score == 0.9 and np.allclose(box[0], (0 * 0.9 + 1 * 0.6) / 1.5)
    assert np.allclose(kp, 2.0 * 0.6 / 1.5)
    assert np.allclose(out[1][1], boxes[2])


def test_alignment_roi_turns_the_body_upright():
    up = roi_from_alignment(np.array([100.0, 200.0]), np.array([100.0, 120.0]))
    assert up.rotation == 0 and up.size == 2 * 80 * 1.25
    lying = roi_from_alignment(np.array([100.0, 200.0]), np.array([180.0, 200.0]))  # head to the right
    assert math.isclose(lying.rotation, math.pi / 2)
    # the crop's top centre is where the head is
    top = lying.project(np.array([[LANDMARK_SIZE / 2, 0.0]]), LANDMARK_SIZE)[0]
    assert np.allclose(top, [100 + lying.size / 2, 200])


def test_crop_and_project_are_inverse():
    img = np.zeros((300, 400, 3), np.uint8)
    img[150, 220] = 255
    roi = Roi(200, 160, 120, 0.3)
    crop = roi.crop(img, 256)
    v, u = np.unravel_index(crop[:, :, 0].argmax(), crop.shape[:2])
    assert np.allclose(roi.project(np.array([[u + 0.5, v + 0.5]]), 256)[0], [220, 150], atol=1.0)


def _reference_refine(xy, heatmap, kernel=7, min_conf=0.5):
    """The refinement written the plain way: one landmark at a time."""
    hm_h, hm_w, n = heatmap.shape
    out = xy.copy()
    off = (kernel - 1) // 2
    for i in range(min(n, len(xy))):
        cx, cy = int(xy[i, 0] / LANDMARK_SIZE * hm_w), int(xy[i, 1] / LANDMARK_SIZE * hm_h)
        if not (0 <= cx < hm_w and 0 <= cy < hm_h):
            continue
        r0, r1, c0, c1 = max(0, cy - off), min(hm_h, cy + off + 1), max(0, cx - off), min(hm_w, cx + off + 1)
        win = _sigmoid(heatmap[r0:r1, c0:c1, i])
        if win.max() < min_conf or win.sum() <= 0:
            continue
        rows, cols = np.mgrid[r0:r1, c0:c1]
        out[i] = [(cols * win).sum() / win.sum() / hm_w * LANDMARK_SIZE,
                  (rows * win).sum() / win.sum() / hm_h * LANDMARK_SIZE]
    return out


def test_vectorised_refinement_equals_the_reference():
    rng = np.random.default_rng(7)
    for _ in range(50):
        hm = rng.normal(0, 3, (64, 64, 39)).astype(np.float32)
        xy = rng.uniform(-20, 276, (39, 2))  # some outside, some at the edges
        assert np.allclose(refine_from_heatmap(xy, hm), _reference_refine(xy, hm), atol=1e-6)
