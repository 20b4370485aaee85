"""A pose that lies on another person's skeleton: a second, collapsed estimate of part of one body.

The landmark model, given a crop of part of someone (a detector box on their head and arms, a
ROI that slid up a lying lifter's chest), can return a small whole-body pose whose joints sit on
that person's own face, arms or torso. Its torso does not coincide with theirs and its scale is
much smaller, so keypoint similarity and torso-centre rules miss it, yet it is no one else: its
visible joints lie on the bigger pose's limbs or torso (at up to 0.65 of its size), or, for a
pose under 0.45 of its size, inside the bigger pose's outline (a tiny pose on the head between a
lifter's raised arms). Two real people do not look like that to the model: a person behind or
beside another shows joints beside the front person's limbs, not along them, and a body of their
own that is not wholly inside the other's outline.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from edgepose.skeleton import BLAZE_EDGES, BLAZE_INDEX, COCO_EDGES, COCO_INDEX

_TORSO_NAMES = ("left_shoulder", "right_shoulder", "right_hip", "left_hip")
COCO_TORSO = tuple(COCO_INDEX[n] for n in _TORSO_NAMES)
BLAZE_TORSO = tuple(BLAZE_INDEX[n] for n in _TORSO_NAMES)
MIN_VIS = 0.3
REACH = 0.08      # of the bigger pose's extent (box diagonal): how near a limb a joint must be
SHARE = 0.8       # of the smaller pose's visible joints that must lie on a limb
MAX_RATIO = 0.65  # the smaller pose's extent at most this share of the bigger one's
HULL_RATIO = 0.45  # a pose this much smaller wholly inside the other's outline is part of it too
MIN_JOINTS = 4


def _diagonal(pts: np.ndarray) -> float:
    return float(np.linalg.norm(pts.max(0) - pts.min(0)))


def _distance_to_segments(pts: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For each point ``(n, 2)``, its distance to the nearest segment ``a[i]-b[i]`` (``(m, 2)``)."""
    ab = b - a                                                  # (m, 2)
    denom = np.maximum((ab * ab).sum(1), 1e-9)                  # (m,)
    ap = pts[:, None, :] - a[None, :, :]                        # (n, m, 2)
    t = np.clip((ap * ab[None]).sum(2) / denom[None], 0.0, 1.0)
    nearest = a[None] + t[..., None] * ab[None]
    return np.linalg.norm(pts[:, None, :] - nearest, axis=2).min(1)


def _inside(pts: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Points ``(n, 2)`` inside a convex polygon ``(k, 2)`` given in order (either direction)."""
    nxt = np.roll(poly, -1, axis=0)
    cross = ((nxt[:, 0] - poly[:, 0])[None] * (pts[:, 1:2] - poly[None, :, 1])
             - (nxt[:, 1] - poly[:, 1])[None] * (pts[:, 0:1] - poly[None, :, 0]))
    return (cross >= 0).all(1) | (cross <= 0).all(1)


def lies_on(small: np.ndarray, big: np.ndarray, edges: Sequence[tuple[int, int]],
            torso: Sequence[int] = (), max_ratio: float = MAX_RATIO, hull_ratio: float = HULL_RATIO) -> bool:
    """``small``'s visible joints lie on ``big``'s body and it is much smaller: part of one body.

    ``small`` and ``big`` are ``(N, 3)`` keypoints (x, y, visibility) of one layout, ``edges``
    its skeleton (:data:`edgepose.skeleton.COCO_EDGES` or ``BLAZE_EDGES``) and ``torso`` the
    indices of its left shoulder, right shoulder, right hip and left hip: a joint is on the body
    when it is near a limb or inside the torso. Symmetric use: :func:`one_nested`. ``max_ratio``
    and ``hull_ratio`` narrow the test (stills: :func:`edgepose.inference.onebody.piece_of`).
    """
    sv = small[small[:, 2] >= MIN_VIS, :2].astype(np.float64)
    bmask = big[:, 2] >= MIN_VIS
    if len(sv) < MIN_JOINTS or bmask.sum() < MIN_JOINTS:
        return False
    size_b = _diagonal(big[bmask, :2].astype(np.float64))
    if size_b <= 0 or _diagonal(sv) > max_ratio * size_b:
        return False
    bpts = big[bmask, :2].astype(np.float64)
    if _diagonal(sv) <= hull_ratio * size_b and len(bpts) >= 3:
        hull = cv2.convexHull(bpts.astype(np.float32)).reshape(-1, 2).astype(np.float64)
        if len(hull) >= 3 and float(_inside(sv, hull).mean()) >= SHARE:
            return True
    segs = [(i, j) for i, j in edges if bmask[i] and bmask[j]]
    if len(segs) < 3:
        return False
    a = np.array([big[i, :2] for i, _ in segs], np.float64)
    b = np.array([big[j, :2] for _, j in segs], np.float64)
    near = _distance_to_segments(sv, a, b) <= REACH * size_b
    if len(torso) == 4 and bmask[list(torso)].all():
        near |= _inside(sv, big[list(torso), :2].astype(np.float64))
    return float(near.mean()) >= SHARE


def one_nested(a: np.ndarray, b: np.ndarray, edges: Sequence[tuple[int, int]],
               torso: Sequence[int] = ()) -> bool:
    """Either pose lies on the other's body (:func:`lies_on`)."""
    return lies_on(a, b, edges, torso) or lies_on(b, a, edges, torso)


def coco17_nested(a: np.ndarray, b: np.ndarray) -> bool:
    """:func:`one_nested` for two COCO-17 poses."""
    return one_nested(a, b, COCO_EDGES, COCO_TORSO)


def blaze33_nested(a: np.ndarray, b: np.ndarray) -> bool:
    """:func:`one_nested` for two BlazePose-33 poses."""
    return one_nested(a, b, BLAZE_EDGES, BLAZE_TORSO)
