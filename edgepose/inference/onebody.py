"""Two poses of one video frame that are one body: the video engine's one-pose-per-body test.

A tracked person's ROI and a fresh detection, or two ROIs that slid onto one person, give two
estimates of one body; only one may stay. The offline counterpart for COCO-17 poses is
:func:`edgepose.analyze.relink.one_body`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edgepose.inference import topdown
from edgepose.inference.nested import BLAZE_TORSO, blaze33_nested, lies_on
from edgepose.inference.person_detector import whole_people
from edgepose.skeleton import BLAZE_EDGES


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


FACE = slice(0, 11)      # nose, eyes, ears, mouth
FACE_MIN_VIS = 0.5
SAME_FACE = 0.35         # median face-point distance, in face sizes, under which two faces are one
FACE_SCALE_RATIO = 2.0   # and their face sizes within this factor


def face_size(kp: np.ndarray) -> float:
    """The diagonal of a pose's face points (nose, eyes, ears, mouth): frontal, about the width
    between the ears; in profile, nose to ear."""
    f = kp[FACE, :2].astype(np.float64)
    return float(np.linalg.norm(f.max(0) - f.min(0)))


def same_head(a: np.ndarray, b: np.ndarray) -> bool:
    """Both poses see a face, and it is the same face: their face points lie within
    :data:`SAME_FACE` of a face size of each other at a similar face size. Two people never share
    a head; two estimates of one person from two detections of their face often do, with bodies
    that part (the second one's limbs thrown onto the person's arm or the background), which the
    body tests do not catch."""
    if min(float(a[FACE, 2].mean()), float(b[FACE, 2].mean())) < FACE_MIN_VIS:
        return False
    sa, sb = face_size(a), face_size(b)
    if min(sa, sb) < 2.0 or max(sa, sb) > FACE_SCALE_RATIO * min(sa, sb):
        return False
    d = np.linalg.norm(a[FACE, :2].astype(np.float64) - b[FACE, :2].astype(np.float64), axis=1)
    return float(np.median(d)) < SAME_FACE * max(sa, sb)


def one_body(a: np.ndarray, b: np.ndarray) -> bool:
    """Video: two poses are one body -- :func:`same_person`, or the same body by keypoint
    similarity with left and right possibly swapped (:func:`topdown.same_body`), or their mid-hips
    coincide at a similar scale (a second, collapsed estimate), or it is the same extent the
    other way up, or one is a small pose lying on the other's body (:mod:`.nested`), or they share
    one face (:func:`same_head`)."""
    if (same_person(a, b) or topdown.same_body(a, b) or blaze33_nested(a, b) or _torso_shared(a, b)
            or same_head(a, b)):
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


BOX_MARGIN = 0.05  # one pose of a person replaces another only when this much more like a box
OWN_BOX_IOU = topdown.OWN_BOX_IOU


@dataclass(frozen=True)
class BoxMatch:
    """The person box most like a pose's visible extent (``best``, None without boxes) and
    their IoU; ``own`` is that box when the IoU reaches :data:`OWN_BOX_IOU`."""

    best: int | None
    iou: float

    @property
    def own(self) -> int | None:
        return self.best if self.iou >= OWN_BOX_IOU else None


def box_match(kp: np.ndarray, boxes: Sequence[topdown.PersonBox] | None) -> BoxMatch:
    """:class:`BoxMatch` of a pose among ``boxes``."""
    best, at = 0.0, None
    for i, b in enumerate(boxes or ()):
        iou = topdown.box_extent_iou(kp, b)
        if iou > best:
            best, at = iou, i
    return BoxMatch(at, best)


def still_duplicate(a: np.ndarray, b: np.ndarray) -> bool:
    """Still images: two poses are one person -- :func:`same_person`, the same body by keypoint
    similarity (:func:`topdown.same_body`), or one face (:func:`same_head`). The video test's
    looser rules (a small pose lying on a body, a shared torso centre or mid-hip) are not used
    alone: without a track to hold, a person half behind another or an acrobat on a partner's
    hands looks like that too, and a still has no next frame to find them in."""
    return same_person(a, b) or topdown.same_body(a, b) or same_head(a, b)


PIECE_RATIO = 0.35  # stills: a pose at most this share of another's size, lying on its limbs, is a piece of it


def piece_of(small: np.ndarray, big: np.ndarray) -> bool:
    """Still images: ``small`` is a piece of ``big``'s body -- at most :data:`PIECE_RATIO` of its
    size, its visible joints along ``big``'s limbs or inside its torso (:func:`.nested.lies_on`
    without the outline rule): the landmark model's whole-body guess on a crop of someone's
    hands, arms or a foot (a ball held to the chest, an acrobat's raised leg). Narrower than the
    video's :func:`one_body`: a person half behind another, or an acrobat on a partner's hands,
    is larger than that and shows joints beside the front person's limbs, not along them."""
    return lies_on(small, big, BLAZE_EDGES, BLAZE_TORSO, max_ratio=PIECE_RATIO, hull_ratio=0.0)


HELD_SHARE = 0.9   # of a pose's visible body joints inside a box (widened by 10 %) for the box to hold it
HEADS_APART = 1.0  # nose to nose, in the box owner's torso lengths: beyond it, a head of its own


def _held_ghost(owner: np.ndarray, held: np.ndarray, box: topdown.PersonBox) -> bool:
    """``held``, which fits no person box, lies inside ``owner``'s own ``box`` and is a second
    estimate of ``owner``'s body: a smaller pose lying on its limbs (:func:`.nested.blaze33_nested`),
    or one the video's :func:`one_body` joins to it whose head is ``owner``'s head (noses within
    :data:`HEADS_APART` torso lengths). The ghost skeleton a tile's face detection leaves inside a
    lone warrior or triangle pose is this; two acrobats the detector gives one box are not (their
    torsos share a centre, but one head is four torso lengths from the other)."""
    if topdown.box_support(held, [box]) < HELD_SHARE:
        return False
    if blaze33_nested(owner, held):
        return True
    torso = float(np.linalg.norm((owner[11, :2] + owner[12, :2]) / 2 - (owner[23, :2] + owner[24, :2]) / 2))
    heads = float(np.linalg.norm(owner[0, :2] - held[0, :2]))
    return heads < HEADS_APART * max(torso, 1.0) and one_body(owner, held)


def _one_person(a: np.ndarray, b: np.ndarray, ma: BoxMatch, mb: BoxMatch,
                boxes: Sequence[topdown.PersonBox] | None = None) -> bool:
    """``a`` is a second estimate of ``b``'s person."""
    if ma.own is not None and mb.own is not None:
        if ma.own != mb.own:
            return False              # each matches a person box of its own: two people
        return one_body(a, b)         # both match one box: the video test's looser rules too
    if boxes is not None and ((ma.own is None and mb.own is not None and _held_ghost(b, a, boxes[mb.own])) or
                              (mb.own is None and ma.own is not None and _held_ghost(a, b, boxes[ma.own]))):
        return True
    return still_duplicate(a, b)


def one_per_body(poses: Sequence[np.ndarray], boxes: Sequence[topdown.PersonBox] | None = None) -> list[int]:
    """Indices of ``poses`` (most prominent first) kept so that no two are one person.

    Without person boxes a pose is dropped when it is a :func:`still_duplicate` of one kept
    before it. With them, the face-free detector decides more: two poses that each match a box
    of their own (:func:`box_match`), different boxes, are two people; two that match the same
    box are one when the video's :func:`one_body` says so (a second estimate of the body the box
    holds, its torso collapsed onto the first). A pose with no box of its own inside a body
    another pose's box holds is kept: in a hand-balance or an embrace the person detector gives
    two people one box, unless it is a ghost of the pose whose own box it lies in
    (:func:`_held_ghost`). Of two poses of one person, the one whose
    extent is more like a person box is kept in the other's place (the estimate whose limbs were
    thrown onto a table or a neighbour is not). Last, a pose that is a :func:`piece_of` another
    kept one goes, unless each matches a person box of its own (a small person the detector
    boxed, such as a child held in someone's arms). A box that is a part of another person's box
    (:func:`.person_detector.part_of`: a pair of legs boxed again) is no pose's own.
    """
    if boxes is not None:
        boxes = whole_people(list(boxes))
    kept: list[int] = []
    match = [box_match(kp, boxes) for kp in poses]
    for i, kp in enumerate(poses):
        clash = [j for j in kept if _one_person(kp, poses[j], match[i], match[j], boxes)]
        if not clash:
            kept.append(i)
        elif len(clash) == 1 and match[i].iou > match[clash[0]].iou + BOX_MARGIN:
            kept[kept.index(clash[0])] = i

    def boxed_apart(i: int, j: int) -> bool:
        return match[i].own is not None and match[j].own is not None and match[i].own != match[j].own

    return [i for i in kept if not any(j != i and not boxed_apart(i, j) and piece_of(poses[i], poses[j]) for j in kept)]
