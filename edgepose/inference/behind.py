"""People half hidden behind someone the engine already found.

The face-keyed detector often does see the face of a person standing behind another (the woman
behind the paddle-boarder in the Bonn clip, heads in a queue), but the landmark model, given that
face's ROI, describes the larger, nearer body the ROI also holds: its pose is a duplicate of the
front person and is dropped, and the person detector gives the two of them one box, so the person
behind is never reported. Painting the people already found out of the picture (their torso, head
and visible limbs) leaves the person behind: on the grey-filled image the person detector boxes
them (the grey figure under their head reads as their body), and on the same pixels filled with
noise the landmark model describes them. Such a pose is kept when the model is sure of it, its
head is on unpainted pixels and a box of the painted image has it (:func:`find_behind`).

Stills only (:meth:`edgepose.inference.engine.PoseEngine.detect_image`): in video the track of a
person who walks behind someone carries them through, and a person who is behind someone from the
start is found by the person detector's boxes once they step out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np

from edgepose.inference import topdown
from edgepose.inference.blazepose import Detection, LandmarkResult, _iou
from edgepose.inference.onebody import same_head, still_duplicate
from edgepose.inference.person_detector import PersonBox
from edgepose.inference.roi import Roi
from edgepose.skeleton import BLAZE_EDGES

HEAD = (0, 2, 5)      # nose and eyes: where a pose's face is
FACE_GROW = 0.25      # a face box grown by this share of its side on each edge
SAME_FACE_IOU = 0.3   # two detections' face boxes this alike are one face
PAINT_LIMB = 0.25     # painted limb width, share of the painted pose's torso length
PAINT_HEAD = 1.3      # painted head radius: this times the nose-to-ear distance...
PAINT_HEAD_TORSO = 0.3  # ...and at least this share of the torso length (a head seen from behind)
GREY = 128
BEHIND_FLAG = 0.9     # pose flag a person behind someone needs (on the painted image)
FACE_VISIBLE = 0.8    # and the mean visibility of their face points (nose, eyes, ears, mouth)
BEHIND_VISIBILITY = 0.6  # and of their body joints (the Bonn woman 0.78-0.84; a pose on a Go player's arm 0.43)


def _grown(box: np.ndarray, grow: float = FACE_GROW) -> np.ndarray:
    x0, y0, x1, y1 = (float(v) for v in box)
    gx, gy = grow * (x1 - x0), grow * (y1 - y0)
    return np.array([x0 - gx, y0 - gy, x1 + gx, y1 + gy])


def _inside(pt: np.ndarray, box: np.ndarray) -> bool:
    return bool(box[0] <= pt[0] <= box[2] and box[1] <= pt[1] <= box[3])


def head_at_face(kp: np.ndarray, box: np.ndarray, min_vis: float = 0.5) -> bool:
    """A visible nose or eye of the pose ``kp`` lies in the (grown) face box."""
    g = _grown(box)
    return any(kp[i, 2] >= min_vis and _inside(kp[i, :2], g) for i in HEAD)


def _face_iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(_iou(np.asarray(a, np.float64), np.asarray(b, np.float64)[None])[0])


def unclaimed_faces(dets: Sequence[Detection], poses: Sequence[np.ndarray]) -> list[Detection]:
    """Detections (best first, one per face) whose face no pose in ``poses`` has its head in."""
    out: list[Detection] = []
    for d in sorted(dets, key=lambda d: -d.score):
        if any(head_at_face(kp, d.box) for kp in poses):
            continue
        if any(_face_iou(d.box, o.box) > SAME_FACE_IOU for o in out):
            continue
        out.append(d)
    return out


def _torso_length(kp: np.ndarray) -> float:
    sh, hp = (kp[11, :2] + kp[12, :2]) / 2, (kp[23, :2] + kp[24, :2]) / 2
    return float(np.linalg.norm(sh - hp))


def paint_mask(shape: tuple[int, ...], poses: Sequence[np.ndarray], min_vis: float = 0.5) -> np.ndarray:
    """``uint8`` mask (255 = painted) of each pose's torso, head and visible limbs (a limb whose
    two ends are under ``min_vis`` is the model's guess behind something, and may be on the very
    person behind)."""
    mask = np.zeros(shape[:2], np.uint8)
    for kp in poses:
        pts = np.round(kp[:, :2]).astype(np.int32)
        torso = _torso_length(kp)
        width = max(2, int(round(PAINT_LIMB * torso)))
        for a, b in BLAZE_EDGES:
            if kp[a, 2] >= min_vis or kp[b, 2] >= min_vis:
                cv2.line(mask, (int(pts[a, 0]), int(pts[a, 1])), (int(pts[b, 0]), int(pts[b, 1])), 255, width)
        cv2.fillPoly(mask, [pts[[11, 12, 24, 23]]], 255)
        head = kp[[0, 7, 8], :2].astype(np.float64).mean(0)
        ear = max(float(np.linalg.norm(kp[0, :2] - kp[7, :2])), float(np.linalg.norm(kp[0, :2] - kp[8, :2])))
        radius = max(PAINT_HEAD * ear, PAINT_HEAD_TORSO * torso, width / 2)
        cv2.circle(mask, (int(round(head[0])), int(round(head[1]))), int(round(radius)), 255, -1)
    return mask


def paint_out(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A copy of the BGR ``image`` with the ``mask``'s pixels grey."""
    out = image.copy()
    out[mask > 0] = GREY
    return out


NOISE_CELL = 4        # the landmark model's fill: random colours in cells this many pixels wide
NOISE_SEED = 13


def scramble(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A copy of the BGR ``image`` with the ``mask``'s pixels replaced by coarse colour noise that
    depends on the pixel's position only (a fixed field, so a mask a pixel wider changes a pixel's
    worth). The person detector is given the grey fill (:func:`paint_out`): a grey figure under a
    visible head still reads as that person's body, so it boxes them. The landmark model is given
    noise: on the grey figure it fits the hidden person's body to the painted one's outline
    (shoulders 20-75 px low on the Bonn woman); on noise it has only what the person shows.
    Measured on Bonn frames 20-25: median error of her visible points 33 px grey, 14 px noise,
    28 px a blurred-background fill (docs/benchmarks.md)."""
    h, w = image.shape[:2]
    rng = np.random.default_rng(NOISE_SEED)
    cells = rng.integers(0, 256, size=(h // NOISE_CELL + 1, w // NOISE_CELL + 1, 3), dtype=np.uint8)
    field = np.repeat(np.repeat(cells, NOISE_CELL, axis=0), NOISE_CELL, axis=1)[:h, :w]
    out = image.copy()
    sel = mask > 0
    out[sel] = field[sel]
    return out


def body_shown(kp: np.ndarray, mask: np.ndarray) -> float:
    """Share of the pose's body joints (shoulders to ankles) in the picture on unpainted pixels:
    the rest of a person behind someone is the landmark model's guess."""
    h, w = mask.shape[:2]
    xy = np.round(kp[topdown.BODY, :2].astype(np.float64)).astype(np.int64)
    inside = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
    shown = np.zeros(len(xy), bool)
    shown[inside] = mask[xy[inside, 1], xy[inside, 0]] == 0
    return float(shown.mean())


def head_unpainted(kp: np.ndarray, mask: np.ndarray) -> bool:
    """The pose's nose and eyes lie in the picture, on pixels nobody was painted over."""
    h, w = mask.shape[:2]
    for i in HEAD:
        x, y = int(round(float(kp[i, 0]))), int(round(float(kp[i, 1])))
        if not (0 <= x < w and 0 <= y < h) or mask[y, x]:
            return False
    return True


HEAD_BOX_TOP = 0.35   # a person box "has" a head in its upper this share (BOX_MARGIN around it)
TAKEN_TOP = 0.2       # a painted person's nose this near a box's top, its extent the box's: their box
BOX_MARGIN = 0.1


def _nose_depth(kp: np.ndarray, box: PersonBox) -> float | None:
    """How far down the box the pose's nose is (0 top, 1 bottom), None when it is not in the box
    (with :data:`BOX_MARGIN` around it)."""
    x, y = float(kp[0, 0]), float(kp[0, 1])
    mx, my = BOX_MARGIN * box.width, BOX_MARGIN * box.height
    if not (box.x0 - mx <= x <= box.x1 + mx and box.y0 - my <= y <= box.y1 + my):
        return None
    return (y - box.y0) / max(box.height, 1.0)


def box_taken(box: PersonBox, poses: Sequence[np.ndarray]) -> bool:
    """The box is a painted person's silhouette: its extent, their nose at its top."""
    for kp in poses:
        depth = _nose_depth(kp, box)
        if depth is not None and depth < TAKEN_TOP and topdown.box_extent_iou(kp, box) >= topdown.OWN_BOX_IOU:
            return True
    return False


def box_has_head(kp: np.ndarray, box: PersonBox, poses: Sequence[np.ndarray]) -> bool:
    """The pose's nose is in the box's top :data:`HEAD_BOX_TOP` and higher in it than any of
    ``poses``' noses: the box is that person's, not a box their head reaches into."""
    depth = _nose_depth(kp, box)
    if depth is None or depth > HEAD_BOX_TOP:
        return False
    others = [d for d in (_nose_depth(p, box) for p in poses) if d is not None]
    return all(depth < d for d in others)


def face_visible(kp: np.ndarray) -> float:
    return float(kp[:11, 2].mean())


def torso_centre(kp: np.ndarray) -> tuple[float, float]:
    c = kp[[11, 12, 23, 24], :2].astype(np.float64).mean(0)
    return float(c[0]), float(c[1])


def find_behind(image: np.ndarray, poses: Sequence[np.ndarray], detections: Sequence[Detection],
                detect_boxes: Callable[[np.ndarray], list[PersonBox]],
                run: Callable[[np.ndarray, Roi], LandmarkResult], min_score: float
                ) -> tuple[list[topdown.Candidate], np.ndarray]:
    """People behind the found ``poses``, looked for with those people painted out.

    Proposals: the person boxes of the grey-painted image that are no painted person's own
    (:func:`box_taken`), and the face-keyed ``detections`` no found pose has its head in whose ROI
    holds a found person's torso (:func:`unclaimed_faces`). Each is run through the landmark model
    (``run``; two passes, as a box pose) on the noise-filled image (:func:`scramble`). A pose is
    kept when the model is sure of it (:data:`BEHIND_FLAG`, face points :data:`FACE_VISIBLE`, body
    visibility :data:`BEHIND_VISIBILITY`), its head is on unpainted pixels, it does not share a found
    pose's head, and one of the boxes has its head (:func:`box_has_head`); one per box, the surest,
    then one per body. Its score counts, as a box pose's does, that box's score, and only the share
    of its body the picture shows (:func:`body_shown`): the rest is a guess; one that shows none is
    dropped. Returns the new
    candidates (source ``"behind"``) and the noise-filled image their keypoints are averaged on.
    """
    if not poses:
        return [], image
    mask = paint_mask(image.shape, poses)
    boxes = [b for b in detect_boxes(paint_out(image, mask)) if not box_taken(b, poses)]
    if not boxes:
        return [], image
    filled = scramble(image, mask)
    rois = [b.roi(topdown.BOX_ROI_SCALE) for b in boxes]
    rois += [d.roi() for d in unclaimed_faces(detections, poses)
             if any(d.roi().contains(*torso_centre(kp)) for kp in poses)]
    best: dict[int, topdown.Candidate] = {}  # box index -> the surest pose whose head it has
    for roi in rois:
        r = topdown.pose_from_roi(roi, lambda q: run(filled, q), min_score)
        if r is None:
            continue
        kp = r.keypoints
        if (r.score < BEHIND_FLAG or topdown.body_visibility(kp) < BEHIND_VISIBILITY
                or face_visible(kp) < FACE_VISIBLE or not head_unpainted(kp, mask)):
            continue
        # The hidden body is the model's guess, often drawn over the front person's: only a shared
        # head makes the pose theirs.
        if any(same_head(kp, p) for p in poses):
            continue
        c = topdown.Candidate(r, "behind")
        for i, b in enumerate(boxes):
            if box_has_head(kp, b, poses) and (i not in best or topdown.pose_quality(c) > topdown.pose_quality(best[i])):
                best[i] = c
    found: list[topdown.Candidate] = []
    for i, c in sorted(best.items(), key=lambda ic: -topdown.pose_quality(ic[1])):
        if all(c is not f and not still_duplicate(c.keypoints, f.keypoints) for f in found):
            found.append(c)
            # After the choice (a pose whose guessed body lies beside the front person is no
            # better): its score, as a box pose's, counts the box it was found by.
            c.box, c.shown = boxes[i], body_shown(c.keypoints, mask)
    # A body none of whose joints the picture shows is the model's guess below a head: reported,
    # it would be a skeleton at score 0 drawn over the front person (seen on a lifter lying on
    # the floor, filmed from his feet).
    return [c for c in found if c.shown > 0.0], filled
