"""What a person looks like: colour histograms of their own torso and legs pixels.

Re-linking a person's track fragments after an occlusion or a crossing needs a description that
does not change when they turn or move but differs between people: the colours of their
clothes. The pixels come from inside the body, not from the box around it (a box around a
person with spread arms is mostly background):

* the **torso**: the shoulder-hip quadrilateral, shrunk towards its centre;
* the **legs**: thick strokes along hip-knee-ankle, as wide as a fifth of the torso length.

Colours are binned in HSV so that lighting changes move them little: chromatic pixels
(saturated and not dark) by hue and saturation, achromatic ones (black, grey, white clothes,
whose hue is noise) by brightness alone. :func:`distance` is the Hellinger distance of the
Bhattacharyya coefficient (0 same colours, 1 nothing in common).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edgepose.skeleton import COCO_INDEX

_C = COCO_INDEX
HUE_BINS, SAT_BINS, GREY_BINS = 12, 2, 4
BINS = HUE_BINS * SAT_BINS + GREY_BINS
MIN_SAT, MIN_VAL = 50, 45          # below either, a pixel's hue is noise: binned by brightness
MIN_PIXELS = 40                     # fewer: no histogram for that part
MIN_VIS = 0.5                       # joints a part is drawn from must be this visible
_LEGS = (("left_hip", "left_knee"), ("left_knee", "left_ankle"),
         ("right_hip", "right_knee"), ("right_knee", "right_ankle"))


@dataclass
class Appearance:
    """Normalised colour histograms (``BINS`` each) of the torso and the legs; None where unseen."""

    torso: np.ndarray | None
    legs: np.ndarray | None

    def usable(self) -> bool:
        return self.torso is not None or self.legs is not None


def _hist(hsv: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    sel = hsv[mask > 0]
    if len(sel) < MIN_PIXELS:
        return None
    h, s, v = sel[:, 0].astype(np.int32), sel[:, 1].astype(np.int32), sel[:, 2].astype(np.int32)
    chroma = (s >= MIN_SAT) & (v >= MIN_VAL)
    hb = np.minimum(h * HUE_BINS // 180, HUE_BINS - 1)
    sb = np.minimum((s - MIN_SAT) * SAT_BINS // (256 - MIN_SAT), SAT_BINS - 1)
    gb = np.minimum(v * GREY_BINS // 256, GREY_BINS - 1)
    idx = np.where(chroma, hb * SAT_BINS + np.maximum(sb, 0), HUE_BINS * SAT_BINS + gb)
    out = np.bincount(idx, minlength=BINS).astype(np.float64)
    return out / out.sum()


def part_masks(shape: tuple[int, int], kp17: np.ndarray, offset: tuple[int, int] = (0, 0)
               ) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Masks (uint8, ``shape``) of the torso polygon and the leg strokes of a COCO-17 pose whose
    pixel coordinates are shifted by ``-offset``; None for a part whose joints are not seen."""
    kp = kp17[:, :2] - np.asarray(offset, np.float64)
    vis = kp17[:, 2]
    corners = [_C["left_shoulder"], _C["right_shoulder"], _C["right_hip"], _C["left_hip"]]
    torso_len = 0.0
    torso = None
    if (vis[corners] >= MIN_VIS).all():
        quad = kp[corners]
        centre = quad.mean(0)
        quad = centre + 0.7 * (quad - centre)          # the middle of the torso: no background, no arms
        torso_len = float(np.linalg.norm((kp[corners[0]] + kp[corners[1]]) / 2 - (kp[corners[2]] + kp[corners[3]]) / 2))
        if torso_len >= 4:
            torso = np.zeros(shape, np.uint8)
            cv2.fillPoly(torso, [np.round(quad).astype(np.int32)], 255)
    legs = None
    if torso_len >= 4:
        width = max(2, int(round(0.2 * torso_len)))
        for a, b in _LEGS:
            ia, ib = _C[a], _C[b]
            if vis[ia] < MIN_VIS or vis[ib] < MIN_VIS:
                continue
            pa, pb = kp[ia], kp[ib]
            # the middle 80 % of the segment: joints sit at the edges of the cloth
            p0, p1 = pa + 0.1 * (pb - pa), pa + 0.9 * (pb - pa)
            if legs is None:
                legs = np.zeros(shape, np.uint8)
            cv2.line(legs, tuple(int(round(x)) for x in p0), tuple(int(round(x)) for x in p1), 255, width)
    return torso, legs


def _body_mask(shape: tuple[int, int], kp17: np.ndarray, offset: tuple[int, int]) -> np.ndarray | None:
    """Mask of a whole body: the convex hull of its seen keypoints and of the top of its head
    (above the shoulders by 0.6 of the torso, where the face keypoints may not be seen), widened
    by a tenth of its height (the width of the head, arms and legs); None with under 3 seen."""
    kp = kp17[:, :2] - np.asarray(offset, np.float64)
    seen = kp17[:, 2] >= MIN_VIS
    pts = kp[seen]
    if len(pts) < 3:
        return None
    sh, hp = [_C["left_shoulder"], _C["right_shoulder"]], [_C["left_hip"], _C["right_hip"]]
    if seen[sh + hp].all():
        top = kp[sh].mean(0) + 0.6 * (kp[sh].mean(0) - kp[hp].mean(0))
        width = kp[sh[0]] - kp[sh[1]]
        pts = np.vstack([pts, top + 0.3 * width, top - 0.3 * width])
    pad = max(1, int(round(0.1 * float(np.ptp(pts[:, 1])))))
    mask = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(pts).astype(np.int32)), 255)
    return cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * pad + 1, 2 * pad + 1)))


def describe(image: np.ndarray, kp17: np.ndarray, exclude: list[np.ndarray] = ()) -> Appearance:
    """The :class:`Appearance` of the person whose COCO-17 keypoints (pixels, visibility) are
    ``kp17`` in the BGR ``image`` (only the crop around them is converted). ``exclude``: COCO-17
    poses of people who may stand in front: every pixel of their body (:func:`_body_mask`: the
    hull of their seen keypoints and of the top of their head, widened) is left out."""
    h, w = image.shape[:2]
    sel = kp17[kp17[:, 2] >= MIN_VIS, :2]
    if len(sel) < 4:
        return Appearance(None, None)
    pad = 4
    x0, y0 = np.floor(sel.min(0)).astype(int) - pad
    x1, y1 = np.ceil(sel.max(0)).astype(int) + pad
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return Appearance(None, None)
    hsv = cv2.cvtColor(np.ascontiguousarray(image[y0:y1, x0:x1]), cv2.COLOR_BGR2HSV)
    torso, legs = part_masks((y1 - y0, x1 - x0), kp17, (x0, y0))
    for other in exclude:
        body = _body_mask((y1 - y0, x1 - x0), other, (x0, y0))
        if body is None:
            continue
        for part in (torso, legs):
            if part is not None:
                part[body > 0] = 0
    return Appearance(_hist(hsv, torso) if torso is not None else None,
                      _hist(hsv, legs) if legs is not None else None)


def _hellinger(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(max(0.0, 1.0 - float(np.sqrt(a * b).sum()))))


def distance(a: Appearance, b: Appearance) -> float | None:
    """Mean Hellinger distance over the parts both show (torso weighs twice the legs); None
    when they share no part."""
    terms = []
    if a.torso is not None and b.torso is not None:
        terms += [_hellinger(a.torso, b.torso)] * 2
    if a.legs is not None and b.legs is not None:
        terms.append(_hellinger(a.legs, b.legs))
    return float(np.mean(terms)) if terms else None


def mean(apps: list[Appearance]) -> Appearance:
    """The average appearance of many frames (each part over the frames that show it)."""
    def avg(parts: list[np.ndarray | None]) -> np.ndarray | None:
        got = [p for p in parts if p is not None]
        if not got:
            return None
        m = np.mean(got, axis=0)
        return m / m.sum()

    return Appearance(avg([a.torso for a in apps]), avg([a.legs for a in apps]))
