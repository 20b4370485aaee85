"""Top-down candidates from person boxes, and one pose per body across every source.

The engine gathers candidate poses from several proposers -- CenterNet person boxes
(:mod:`edgepose.inference.person_detector`, face-free), BlazePose's face-keyed detector on the
whole frame and on tiles, tracked ROIs, motion regions -- and each goes through the landmark
model. Here:

* :func:`pose_from_box`: a person box → an upright square ROI → landmarks → the model's own
  alignment ROI (rotated) → landmarks again; the surer of the two passes is kept;
* :func:`pose_nms`: duplicates suppressed by keypoint similarity (COCO OKS on the body joints,
  plus a left/right-swapped comparison), the better-founded pose kept -- not by box overlap,
  which would merge real neighbours;
* :func:`spans_two_people`: a pose whose limbs lie on a second person's box while its torso
  lies on another's (the landmark model, shown two people in one crop, mixes them), and
  :func:`torso_spans_two_people`: a torso laid across two standing people;
* :func:`pose_quality`: how well-founded a pose is, used both to rank duplicates and people.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from edgepose.inference.blazepose import LandmarkResult
from edgepose.inference.person_detector import PersonBox
from edgepose.inference.roi import Roi
from edgepose.skeleton import COCO_FROM_BLAZE, COCO_MIRROR, COCO_SIGMAS

BODY = slice(11, 29)  # shoulders to ankles
_VAR = (2.0 * np.asarray(COCO_SIGMAS, np.float64)) ** 2
BOX_ROI_SCALE = 1.25


@dataclass
class Candidate:
    """A landmark result and where its ROI came from."""

    result: LandmarkResult
    source: str                      # "person" (a CenterNet box), "detector", "track", "motion"
    box: PersonBox | None = None     # the person box it came from, if any
    support: float = 0.0             # share of its body keypoints inside some person box
    torso_boxed: bool = True         # a box holds its torso centre, not a surer pose's own box (set by :func:`merge`)
    shown: float = 1.0               # share of its body joints the picture shows (a person behind someone: the rest is a guess)

    @property
    def keypoints(self) -> np.ndarray:
        return self.result.keypoints


def body_visibility(kp: np.ndarray) -> float:
    return float(np.mean(kp[BODY, 2]))


def pose_extent(kp: np.ndarray, min_vis: float = 0.0) -> np.ndarray:
    """``x0, y0, x1, y1`` of the body keypoints (visible ones when there are enough)."""
    pts = kp[:, :2]
    sel = kp[:, 2] >= min_vis
    if sel.sum() >= 4:
        pts = pts[sel]
    return np.array([pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()], np.float64)


def pose_from_box(box: PersonBox, run: Callable[[Roi], LandmarkResult], min_score: float
                  ) -> LandmarkResult | None:
    """Landmarks for a person box: an upright square, then the model's own rotated ROI.

    ``run`` is the landmark model on the current image. Returns None when the model does not see
    a person in the box's square (pose flag under ``min_score``).
    """
    return pose_from_roi(box.roi(BOX_ROI_SCALE), run, min_score)


def pose_from_roi(roi: Roi, run: Callable[[Roi], LandmarkResult], min_score: float) -> LandmarkResult | None:
    """Landmarks on ``roi``, then on the model's own next ROI; the surer pass, or None when the
    first sees no person (pose flag under ``min_score``)."""
    r = run(roi)
    if r.score < min_score:
        return None
    r2 = run(r.next_roi())
    return r2 if r2.score >= r.score else r


def coco17(kp: np.ndarray) -> np.ndarray:
    return kp[list(COCO_FROM_BLAZE)].astype(np.float64)


def oks(a: np.ndarray, b: np.ndarray, min_vis: float = 0.3) -> float:
    """COCO OKS between two BlazePose-33 poses (``a``'s extent as the scale), the better of the
    direct and the left/right-swapped comparison, over keypoints both see."""
    ka, kb = coco17(a), coco17(b)
    e = pose_extent(a, min_vis)
    area = max(1.0, (e[2] - e[0]) * (e[3] - e[1]))
    best = 0.0
    for perm in (slice(None), list(COCO_MIRROR)):
        kbp = kb[perm]
        w = (ka[:, 2] >= min_vis) & (kbp[:, 2] >= min_vis)
        if w.sum() < 3:
            w = np.ones(17, bool)
        d2 = ((ka[:, :2] - kbp[:, :2]) ** 2).sum(1)
        s = np.exp(-d2 / _VAR / (2.0 * area))
        best = max(best, float(s[w].mean()))
    return best


def _scale(kp: np.ndarray) -> float:
    return float(max(1.0, math.hypot(*(kp[:, :2].max(0) - kp[:, :2].min(0)))))


def same_body(a: np.ndarray, b: np.ndarray, oks_thresh: float = 0.5, median_frac: float = 0.1) -> bool:
    """Two poses describe one body: high OKS either way, or torso and leg joints nearly coincide
    (directly or left/right swapped) at a similar scale."""
    if max(oks(a, b), oks(b, a)) >= oks_thresh:
        return True
    sa, sb = _scale(a), _scale(b)
    if not 0.6 < sa / sb < 1.67:
        return False
    core = [11, 12, 23, 24, 25, 26, 27, 28]
    mirror = [12, 11, 24, 23, 26, 25, 28, 27]
    d = min(float(np.median(np.linalg.norm(a[core, :2] - b[other, :2], axis=1))) for other in (core, mirror))
    return d < median_frac * min(sa, sb)


def box_support(kp: np.ndarray, boxes: Sequence[PersonBox], min_vis: float = 0.5, margin: float = 0.1) -> float:
    """Largest share of the visible body keypoints that lie in one person box (0 without boxes)."""
    pts = kp[BODY][kp[BODY, 2] >= min_vis, :2]
    if not len(pts) or not boxes:
        return 0.0
    best = 0.0
    for b in boxes:
        mx, my = margin * b.width, margin * b.height
        inside = ((pts[:, 0] >= b.x0 - mx) & (pts[:, 0] <= b.x1 + mx) &
                  (pts[:, 1] >= b.y0 - my) & (pts[:, 1] <= b.y1 + my))
        best = max(best, float(inside.mean()))
    return best


def torso_boxed(kp: np.ndarray, boxes: Sequence[PersonBox], margin: float = 0.1) -> bool:
    """The pose's torso centre (mean of shoulders and hips) lies in some person box, widened by
    ``margin`` of its size on each side."""
    t = kp[[11, 12, 23, 24], :2].mean(0)
    return any(b.x0 - margin * b.width <= t[0] <= b.x1 + margin * b.width and
               b.y0 - margin * b.height <= t[1] <= b.y1 + margin * b.height for b in boxes)


OWN_BOX_IOU = 0.4  # a pose's visible extent and a person box this alike: the box is that pose's body


def box_extent_iou(kp: np.ndarray, b: PersonBox) -> float:
    """IoU of a pose's visible extent and a person box."""
    e = pose_extent(kp, 0.5)
    iw = max(0.0, min(e[2], b.x1) - max(e[0], b.x0))
    ih = max(0.0, min(e[3], b.y1) - max(e[1], b.y0))
    union = (e[2] - e[0]) * (e[3] - e[1]) + b.width * b.height - iw * ih
    return float(iw * ih / union) if union > 0 else 0.0


LOOSE_BOX_IOU = 0.2  # a box this much like a surer pose's extent, and more like it than like another pose's, is that pose's


def in_anothers_box(c: Candidate, base: Sequence[Candidate], boxes: Sequence[PersonBox]) -> bool:
    """No person box is ``c``'s own (extent IoU >= :data:`OWN_BOX_IOU`), and every box that holds
    its torso belongs to a surer pose of ``base``: that pose's own box, or a looser box of it
    (extent IoU >= :data:`LOOSE_BOX_IOU` and above ``c``'s, as the large-frame crops give). The
    box has its person already, and ``c`` is the landmark model's guess on something beside them
    (a camera on a tripod held to the eye, a second upper body on an astronaut's shoulders, a
    shape at someone's legs, a figure on a glass pillar beside a man in an OCHuman photo)."""
    if any(box_extent_iou(c.keypoints, b) >= OWN_BOX_IOU for b in boxes):
        return False
    holding = [b for b in boxes if torso_boxed(c.keypoints, [b])]
    q = pose_quality(c)

    def theirs(b: PersonBox) -> bool:
        need = min(OWN_BOX_IOU, max(LOOSE_BOX_IOU, box_extent_iou(c.keypoints, b) + 1e-9))
        return any(o is not c and pose_quality(o) > q and box_extent_iou(o.keypoints, b) >= need for o in base)

    return bool(holding) and all(theirs(b) for b in holding)


def proposers_agree(base: Sequence[Candidate], boxes: Sequence[PersonBox], share: float = 0.5) -> bool:
    """The face-keyed path and the whole-frame person boxes found the same people: someone was
    found, every base pose has ``share`` of its visible body in a box, and every box holds
    ``share`` of some base pose's visible body."""
    if not base or not boxes:
        return False
    if any(box_support(c.keypoints, boxes) < share for c in base):
        return False
    return all(any(box_support(c.keypoints, [b]) >= share for c in base) for b in boxes)


def spans_two_people(kp: np.ndarray, boxes: Sequence[PersonBox], min_vis: float = 0.5) -> bool:
    """The pose's hips/shoulders sit in one person box, while a wrist, knee or ankle it sees sits
    deep inside a *different* person's box, outside its own (a crop holding two people whose
    limbs the model mixed). Boxes that overlap heavily (one person behind another) do not count."""
    if len(boxes) < 2:
        return False
    torso = kp[[11, 12, 23, 24], :2].mean(0)
    own = [b for b in boxes if b.x0 <= torso[0] <= b.x1 and b.y0 <= torso[1] <= b.y1]
    if not own:
        return False
    home = min(own, key=lambda b: math.hypot(b.center[0] - torso[0], b.center[1] - torso[1]) / max(b.height, 1.0))
    others = [b for b in boxes if b is not home and _iou(b, home) < 0.3]
    limbs = [15, 16, 25, 26, 27, 28]
    for j in limbs:
        if kp[j, 2] < min_vis:
            continue
        x, y = float(kp[j, 0]), float(kp[j, 1])
        mx, my = 0.1 * home.width, 0.1 * home.height
        if home.x0 - mx <= x <= home.x1 + mx and home.y0 - my <= y <= home.y1 + my:
            continue
        for b in others:
            ix, iy = 0.2 * b.width, 0.1 * b.height
            if b.x0 + ix <= x <= b.x1 - ix and b.y0 + iy <= y <= b.y1 - iy:
                return True
    return False


def torso_spans_two_people(kp: np.ndarray, boxes: Sequence[PersonBox]) -> bool:
    """A torso lying across two standing people: the pose's shoulders sit in one upright person
    box and its hips in another, no box holds both, and the shoulders-to-hips line is more
    horizontal than vertical (the landmark model on a crop holding two people side by side can
    lay one body across both). An upright torso never counts: in crowds, boxes cut at the waist
    put a real person's shoulders and hips in two boxes."""
    if len(boxes) < 2:
        return False
    shoulders, hips = kp[[11, 12], :2].mean(0), kp[[23, 24], :2].mean(0)

    def holding(p: np.ndarray) -> list[PersonBox]:
        return [b for b in boxes if b.x0 <= p[0] <= b.x1 and b.y0 <= p[1] <= b.y1]

    dx, dy = abs(hips[0] - shoulders[0]), abs(hips[1] - shoulders[1])
    if dx <= dy:                      # an upright torso: boxes cut at the waist are common in crowds
        return False
    at_s, at_h = holding(shoulders), holding(hips)
    if not at_s or not at_h or any(b in at_h for b in at_s):
        return False
    upright = [b for b in (*at_s, *at_h) if b.height > b.width]
    return len(upright) == len(at_s) + len(at_h) and all(_iou(a, b) < 0.3 for a in at_s for b in at_h)


def _iou(a: PersonBox, b: PersonBox) -> float:
    x0, y0 = max(a.x0, b.x0), max(a.y0, b.y0)
    x1, y1 = min(a.x1, b.x1), min(a.y1, b.y1)
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = a.width * a.height + b.width * b.height - inter
    return inter / union if union > 0 else 0.0


BOX_TRUST = 0.2  # a box of score s vouches min(1, 0.2 + s): measured 0.2 > 0.4 on the stills (PCK 0.893 vs 0.886)


def pose_quality(c: Candidate) -> float:
    """Pose flag x body visibility, raised for a pose a person box vouches for (0.8 + 0.2 x the
    share of its body inside one box), so the well-founded one of two duplicates wins; a pose
    found only through a doubtful box (score under 0.6) counts for less, and so does one whose
    body is partly a guess behind someone (:attr:`Candidate.shown`)."""
    r = c.result
    q = r.score * body_visibility(r.keypoints) * (0.8 + 0.2 * c.support) * c.shown
    if c.box is not None and c.source in ("person", "behind"):
        q *= min(1.0, BOX_TRUST + c.box.score)
    return q


def pose_nms(cands: list[Candidate], oks_thresh: float = 0.5) -> list[Candidate]:
    """One candidate per body: best :func:`pose_quality` first (ties by order given, so the
    result does not depend on float noise in sorting), each dropped when it is the same body as
    one already kept."""
    order = sorted(range(len(cands)), key=lambda i: (-round(pose_quality(cands[i]), 6), i))
    kept: list[Candidate] = []
    for i in order:
        c = cands[i]
        if all(not same_body(c.keypoints, k.keypoints, oks_thresh) for k in kept):
            kept.append(c)
    return kept


def overlaps(a: np.ndarray, b: np.ndarray, iou: float = 0.4, hip_frac: float = 0.15) -> bool:
    """``a`` lies on the body of ``b``: their visible extents overlap by ``iou`` at a similar
    scale, or their mid-hips nearly coincide (a second, worse estimate of one person)."""
    ea, eb = pose_extent(a, 0.5), pose_extent(b, 0.5)
    x0, y0 = max(ea[0], eb[0]), max(ea[1], eb[1])
    x1, y1 = min(ea[2], eb[2]), min(ea[3], eb[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    area_a = max(1.0, (ea[2] - ea[0]) * (ea[3] - ea[1]))
    area_b = max(1.0, (eb[2] - eb[0]) * (eb[3] - eb[1]))
    sa, sb = _scale(a), _scale(b)
    if inter / (area_a + area_b - inter) >= iou and 0.6 < sa / sb < 1.67:
        return True
    if inter / area_a >= 0.8 and sa < sb:          # a small pose inside a bigger one: a fragment
        return True
    hip_a, hip_b = a[[23, 24], :2].mean(0), b[[23, 24], :2].mean(0)
    return float(np.linalg.norm(hip_a - hip_b)) < hip_frac * min(sa, sb)


# A candidate no person box vouches for (under this share of its body in one box) -- from the
# face-keyed detector, a tile or motion -- must be this sure to stay: animals, faces on posters and
# graffiti figures reach a high pose flag but not these body scores (docs/benchmarks.md).
UNBOXED_SUPPORT = 0.3
UNBOXED_FLAG = 0.95
UNBOXED_VISIBILITY = 0.8


def vouched(c: Candidate) -> bool:
    """A person box holds the pose (its torso and :data:`UNBOXED_SUPPORT` of its body), or the
    landmark model is sure of a whole, visible body. A torso no box holds is not vouched for by a
    box its limbs reach into: that is a pose beside someone, on a bag at their feet or on the
    fuel tank by their hand (none of the 5 such poses on the shared stills is a person); nor does a
    box that is already a surer pose's own (:func:`in_anothers_box`)."""
    return ((c.support >= UNBOXED_SUPPORT and c.torso_boxed) or
            (c.result.score >= UNBOXED_FLAG and body_visibility(c.keypoints) >= UNBOXED_VISIBILITY))


def vouching_boxes(c: Candidate, boxes: Sequence[PersonBox]) -> list[PersonBox]:
    """The boxes that may vouch for ``c``: a box found only on the contrast-equalised copy of the
    image (:attr:`PersonBox.contrast`) only for a pose the landmark model is sure of (flag >=
    :data:`UNBOXED_FLAG`). Measured: every dark gym-goer it adds has a flag of 0.99-1.0; the pose
    it let through on bags in a removal van (CrowdPose 103319) had 0.74."""
    if c.result.score >= UNBOXED_FLAG:
        return list(boxes)
    return [b for b in boxes if not b.contrast]


def merge(base: list[Candidate], from_boxes: list[Candidate], boxes: Sequence[PersonBox] | None,
          check_base: bool = True) -> list[Candidate]:
    """One pose per body from the face-keyed path (``base``, already de-duplicated) and the
    person-box path.

    The face-keyed detector's ROI is better aligned where it fires (measured: its poses of seated
    people reach OKS 0.75-0.8 where the box's square gives 0.2-0.7), so its poses are kept and a
    box pose only *adds* a body none of them is on (:func:`same_body`, :func:`overlaps`), or
    takes the place of the one it is on when it is surer and fits its box better
    (:func:`fits_its_box_better`). With
    person boxes at hand, a base pose no box vouches for must pass :func:`vouched`; a box pose
    whose limbs reach into another person's box is dropped (:func:`spans_two_people`), and any
    pose whose torso lies across two standing people is dropped (:func:`torso_spans_two_people`).
    ``boxes`` None: no person detector ran (not fetched); the base poses are kept as they are.
    ``check_base`` False: base poses are not held to :func:`vouched` (video where the person
    detector does not run on every frame a base pose can be found in: the check would only delay
    it by a frame).
    """
    if boxes is None:
        return list(base)
    for c in (*base, *from_boxes):
        mine = vouching_boxes(c, boxes)
        c.support = box_support(c.keypoints, mine)
        c.torso_boxed = torso_boxed(c.keypoints, mine)
    for c in base:
        c.torso_boxed = c.torso_boxed and not in_anothers_box(c, base, boxes)
    kept = [c for c in base if (vouched(c) or not check_base) and not torso_spans_two_people(c.keypoints, boxes)]
    order = sorted(range(len(from_boxes)), key=lambda i: (-round(pose_quality(from_boxes[i]), 6), i))
    for i in order:
        c = from_boxes[i]
        if spans_two_people(c.keypoints, boxes) or torso_spans_two_people(c.keypoints, boxes):
            continue
        clash = [k for k in kept if same_body(c.keypoints, k.keypoints) or overlaps(c.keypoints, k.keypoints)]
        if not clash:
            kept.append(c)
        elif len(clash) == 1 and clash[0].source == "detector" and fits_its_box_better(c, clash[0]):
            kept[next(i for i, k in enumerate(kept) if k is clash[0])] = c
    return kept


REPLACE_MARGIN = 0.05  # extent IoU with the box by which a box pose must beat the base pose it replaces


def fits_its_box_better(c: Candidate, k: Candidate) -> bool:
    """Box pose ``c`` is the better estimate of the body the base pose ``k`` is on: surer
    (:func:`pose_quality`), its visible extent is its box (IoU >= :data:`OWN_BOX_IOU`) and more
    like that box than ``k``'s extent, by :data:`REPLACE_MARGIN`. A face-keyed ROI is usually
    better aligned, but not always: on a large frontal photo of a woman in a wide squat its pose
    bundled the legs onto the torso at flag 1.0 while the box's pose had every limb right."""
    if c.box is None:
        return False
    own = box_extent_iou(c.keypoints, c.box)
    return own >= OWN_BOX_IOU and own > box_extent_iou(k.keypoints, c.box) + REPLACE_MARGIN and \
        pose_quality(c) > pose_quality(k)


def rank(cands: list[Candidate]) -> list[Candidate]:
    """Most prominent first: quality times apparent size (ties by order, for stable output)."""
    order = sorted(range(len(cands)), key=lambda i: (-round(pose_quality(cands[i]) * _scale(cands[i].keypoints), 4), i))
    return [cands[i] for i in order]


def extent_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of the visible extents of two poses."""
    ea, eb = pose_extent(a, 0.5), pose_extent(b, 0.5)
    x0, y0 = max(ea[0], eb[0]), max(ea[1], eb[1])
    x1, y1 = min(ea[2], eb[2]), min(ea[3], eb[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = (ea[2] - ea[0]) * (ea[3] - ea[1]) + (eb[2] - eb[0]) * (eb[3] - eb[1]) - inter
    return float(inter / union) if union > 0 else 0.0
