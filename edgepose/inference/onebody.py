"""Two poses of one video frame that are one body: the video engine's one-pose-per-body test.

A tracked person's ROI and a fresh detection, or two ROIs that slid onto one person, give two
estimates of one body; only one may stay. The offline counterpart for COCO-17 poses is
:func:`edgepose.analyze.relink.one_body`.
"""

from __future__ import annotations

import math

import numpy as np

from edgepose.inference import topdown
from edgepose.inference.nested import blaze33_nested


def pose_scale(kp: np.ndarray) -> float:
    """The diagonal of a pose's keypoint box (at least 1): the scale distances are measured in."""
    x0, y0 = kp[:, 0].min(), kp[:, 1].min()
    x1, y1 = kp[:, 0].max(), kp[:, 1].max()
    return float(max(1.0, math.hypot(x1 - x0, y1 - y0)))


def same_person(a: np.ndarray, b: np.ndarray, thresh: float = 0.08) -> bool:
    """Two 33-keypoint sets describe the same person: torso and limb joints nearly coincide."""
    body = slice(11, 29)
    d = np.linalg.norm(a[body, :2] - b[body, :2], axis=1)
    return float(np.median(d)) < thresh * min(pose_scale(a), pose_scale(b))


TORSO_SHARE = 0.3  # torso centres closer than this many torso lengths: one body (as offline)


def _torso_shared(a: np.ndarray, b: np.ndarray) -> bool:
    """One torso centred on the other's, within :data:`TORSO_SHARE` of the longer torso: a
    collapsed second estimate whose limbs went astray (the rule :func:`edgepose.analyze.relink.
    one_body` applies offline; two people, even a couple dancing close, stand further apart)."""
    centres, lengths = [], []
    for k in (a, b):
        sh, hp = (k[11, :2] + k[12, :2]) / 2, (k[23, :2] + k[24, :2]) / 2
        centres.append((sh + hp) / 2)
        lengths.append(float(np.linalg.norm(sh - hp)))
    longer = max(lengths)
    return longer >= 4 and float(np.linalg.norm(centres[0] - centres[1])) < TORSO_SHARE * longer


def one_body(a: np.ndarray, b: np.ndarray) -> bool:
    """Video: two poses are one body -- :func:`same_person`, or the same body by keypoint
    similarity with left and right possibly swapped (:func:`topdown.same_body`), or their mid-hips
    coincide at a similar scale (a second, collapsed estimate), or it is the same extent the
    other way up, or one is a small pose lying on the other's body (:mod:`.nested`)."""
    if same_person(a, b) or topdown.same_body(a, b) or blaze33_nested(a, b) or _torso_shared(a, b):
        return True
    sa, sb = pose_scale(a), pose_scale(b)
    if not 0.5 < sa / sb < 2.0:
        return False
    hip_a, hip_b = (a[23, :2] + a[24, :2]) / 2, (b[23, :2] + b[24, :2]) / 2
    if float(np.linalg.norm(hip_a - hip_b)) < 0.15 * min(sa, sb):
        return True
    # The same extent with the body the other way up (a ROI turned half round: head where the
    # feet are); two real people do not stand in one box head to toe.
    up_a = (a[11, :2] + a[12, :2]) / 2 - hip_a
    up_b = (b[11, :2] + b[12, :2]) / 2 - hip_b
    opposite = float(up_a @ up_b) < 0
    return opposite and topdown.extent_iou(a, b) >= 0.6
