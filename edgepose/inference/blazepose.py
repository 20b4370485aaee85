"""BlazePose: the pose detector (SSD) and the landmark model, written from the models' contract.

Facts (MediaPipe 0.10.14 graph configs ``pose_detection_cpu.pbtxt``,
``pose_detection_to_roi.pbtxt``, ``pose_landmarks_to_roi.pbtxt``,
``pose_landmark_by_roi_cpu.pbtxt``):

* Detector: 224x224 RGB in [-1, 1], aspect kept with a zero border. 2,254 SSD anchors from five
  layers (strides 8, 16, 32, 32, 32; one aspect ratio plus the interpolated scale, so two anchors
  a cell per layer; fixed anchor size). Each anchor regresses 12 values: the face box (x, y, w, h)
  and four keypoints (mid-hip, full-body scale point, mid-shoulder, upper-body scale point), in
  224-pixel units relative to the anchor centre. Scores are logits clipped at ±100. Weighted NMS at
  IoU 0.3.
* ROI: centre at the mid-hip keypoint, side twice the hip→scale-point distance, rotated so that
  vector points up, then enlarged and made square (the scale is :data:`ROI_SCALE`).
* Landmark model: 256x256 RGB in [0, 1] cropped from the rotated ROI with replicated borders.
  Outputs 39 x (x, y, z, visibility logit, presence logit) in crop pixels (33 body points and two
  pairs of helpers: 33/34 give the next frame's ROI the same way the detector's 0/1 do), a pose
  flag that is already a probability, a segmentation mask, a 64x64x39 heatmap, world landmarks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edgepose.inference import runtime
from edgepose.inference.roi import Roi, roi_from_alignment
from edgepose.skeleton import BLAZE_MIRROR

DETECTOR_SIZE = 224
LANDMARK_SIZE = 256
NUM_LANDMARKS = 39
ROI_SCALE = 1.25
# The ROI that is the whole landmark crop: results in crop pixels.
CROP_ROI = Roi(LANDMARK_SIZE / 2, LANDMARK_SIZE / 2, LANDMARK_SIZE)
# A crop's x in its mirror: pixel u of the crop is pixel 255 - u of the flipped one, and the model's
# coordinates are pixel indices (the crop maps pixel 128 to the ROI's centre).
MIRROR_X = float(LANDMARK_SIZE - 1)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(x, np.float64), -100.0, 100.0)))


def ssd_anchors(input_size: int = DETECTOR_SIZE, strides: tuple[int, ...] = (8, 16, 32, 32, 32),
                per_layer: int = 2) -> np.ndarray:
    """``(N, 2)`` anchor centres in [0, 1]. Consecutive layers with the same stride share a grid."""
    out: list[np.ndarray] = []
    i = 0
    while i < len(strides):
        stride, n = strides[i], 0
        while i < len(strides) and strides[i] == stride:
            n += per_layer
            i += 1
        fm = math.ceil(input_size / stride)
        ys, xs = np.meshgrid((np.arange(fm) + 0.5) / fm, (np.arange(fm) + 0.5) / fm, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        out.append(np.repeat(grid, n, axis=0))
    return np.concatenate(out).astype(np.float32)


@dataclass
class Detection:
    """A detector hit in image pixels."""

    score: float
    box: np.ndarray        # x0, y0, x1, y1 (the face box)
    keypoints: np.ndarray  # (4, 2): mid-hip, full-body scale point, mid-shoulder, upper-body scale point

    def roi(self, scale: float = ROI_SCALE) -> Roi:
        return roi_from_alignment(self.keypoints[0], self.keypoints[1], scale)


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = lambda b: np.clip(b[..., 2] - b[..., 0], 0, None) * np.clip(b[..., 3] - b[..., 1], 0, None)  # noqa: E731
    union = area(box) + area(boxes) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def weighted_nms(scores: np.ndarray, boxes: np.ndarray, kps: np.ndarray, iou: float = 0.3
                 ) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """MediaPipe's weighted NMS: each kept detection is the score-weighted mean of its cluster."""
    order = np.argsort(-scores)
    scores, boxes, kps = scores[order], boxes[order], kps[order]
    alive = np.ones(len(scores), bool)
    out = []
    for i in range(len(scores)):
        if not alive[i]:
            continue
        overlap = _iou(boxes[i], boxes) > iou
        members = alive & overlap
        members[i] = True
        w = scores[members][:, None]
        box = (boxes[members] * w).sum(0) / w.sum()
        kp = (kps[members] * w[:, :, None]).sum(0) / w.sum()
        out.append((float(scores[i]), box, kp))
        alive &= ~members
    return out


class PoseDetector:
    """The SSD pose detector. :meth:`detect` takes a BGR image (or a region of one)."""

    def __init__(self, model_path: str | Path, threads: int = 2, delegate: str | None = None,
                 score_threshold: float = 0.5, nms_iou: float = 0.3):
        self.model = runtime.load(model_path, threads, delegate,
                                  expect_inputs=[(1, DETECTOR_SIZE, DETECTOR_SIZE, 3)],
                                  expect_outputs=[(1, 2254, 12), (1, 2254, 1)])
        self.anchors = ssd_anchors()
        if len(self.anchors) != 2254:  # pragma: no cover - guards the anchor maths
            raise AssertionError(f"{len(self.anchors)} anchors, expected 2254")
        self.score_threshold = score_threshold
        self.nms_iou = nms_iou

    def detect(self, image: np.ndarray, region: tuple[int, int, int, int] | None = None) -> list[Detection]:
        """Detections in pixels of ``image``; ``region`` (x, y, w, h) limits the search to a tile."""
        ox, oy = 0, 0
        if region is not None:
            ox, oy, rw, rh = region
            image = image[oy:oy + rh, ox:ox + rw]
        h, w = image.shape[:2]
        if h < 2 or w < 2:
            return []
        side = max(h, w)
        s = DETECTOR_SIZE / side
        nw, nh = max(1, round(w * s)), max(1, round(h * s))
        small = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        canvas = np.zeros((DETECTOR_SIZE, DETECTOR_SIZE, 3), np.uint8)
        px, py = (DETECTOR_SIZE - nw) // 2, (DETECTOR_SIZE - nh) // 2
        canvas[py:py + nh, px:px + nw] = small
        x = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB).astype(np.float32) * (2.0 / 255.0) - 1.0
        raw, logits = self.model.run(x[None])
        raw, scores = raw[0], _sigmoid(logits[0, :, 0])
        keep = scores >= self.score_threshold
        if not keep.any():
            return []
        raw, scores, anchors = raw[keep], scores[keep], self.anchors[keep]
        d = raw / DETECTOR_SIZE
        cx, cy = d[:, 0] + anchors[:, 0], d[:, 1] + anchors[:, 1]
        bw, bh = d[:, 2], d[:, 3]
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
        kps = d[:, 4:12].reshape(-1, 4, 2) + anchors[:, None, :]
        # Letterboxed [0, 1] → pixels of the (sub)image → pixels of the whole image.
        to_px = np.array([side, side], np.float32)
        off = np.array([px / DETECTOR_SIZE * side, py / DETECTOR_SIZE * side], np.float32)
        out = []
        for score, box, kp in weighted_nms(scores, boxes, kps, self.nms_iou):
            b = box.reshape(2, 2) * to_px - off + (ox, oy)
            k = kp * to_px - off + (ox, oy)
            out.append(Detection(score, b.reshape(4), k))
        return out


@dataclass
class LandmarkResult:
    """Landmark model output for one ROI, in image pixels."""

    keypoints: np.ndarray  # (33, 3): x, y, visibility
    z: np.ndarray          # (33,)
    presence: np.ndarray   # (33,)
    aux: np.ndarray        # (2, 2): the helpers that give the next ROI
    score: float           # pose flag
    roi: Roi

    def next_roi(self, scale: float = ROI_SCALE) -> Roi:
        return roi_from_alignment(self.aux[0], self.aux[1], scale)


class LandmarkModel:
    """The 39-landmark pose model on a rotated ROI."""

    def __init__(self, model_path: str | Path, threads: int = 2, delegate: str | None = None,
                 refine_with_heatmap: bool = True):
        self.model = runtime.load(model_path, threads, delegate,
                                  expect_inputs=[(1, LANDMARK_SIZE, LANDMARK_SIZE, 3)])
        shapes = [o.shape for o in self.model.outputs]
        try:
            self._i_lm = shapes.index((1, NUM_LANDMARKS * 5))
            self._i_flag = shapes.index((1, 1))
        except ValueError:
            raise runtime.ModelError(
                f"{model_path} has outputs {shapes}; a BlazePose landmark model has a (1, 195) landmark "
                "tensor and a (1, 1) pose flag: it is not the model for this decoder"
            ) from None
        self._i_hm = shapes.index((1, 64, 64, NUM_LANDMARKS)) if (1, 64, 64, NUM_LANDMARKS) in shapes else None
        self.refine = refine_with_heatmap and self._i_hm is not None

    def run(self, image: np.ndarray, roi: Roi) -> LandmarkResult:
        """The landmarks of the person in ``roi`` of the BGR ``image``."""
        crop = roi.crop(image, LANDMARK_SIZE)
        x = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32) * (1.0 / 255.0)
        return self.run_crop(x, roi)

    def run_crop(self, x: np.ndarray, roi: Roi = CROP_ROI) -> LandmarkResult:
        """The landmarks of an already cut model input ``x`` (256x256x3 float32 RGB in [0, 1])
        taken from ``roi`` of an image; by default the crop itself is the image (crop pixels)."""
        outs = self.model.run(np.ascontiguousarray(x[None] if x.ndim == 3 else x, dtype=np.float32))
        lm = outs[self._i_lm].reshape(NUM_LANDMARKS, 5).astype(np.float64)
        flag = float(np.clip(outs[self._i_flag].reshape(-1)[0], 0.0, 1.0))
        xy = lm[:, :2]
        if self.refine:
            xy = refine_from_heatmap(xy, outs[self._i_hm][0])
        pts = roi.project(xy, LANDMARK_SIZE)
        vis = _sigmoid(lm[:33, 3])
        kp = np.concatenate([pts[:33], vis[:, None]], axis=1).astype(np.float32)
        z = (lm[:33, 2] * roi.size / LANDMARK_SIZE).astype(np.float32)
        return LandmarkResult(kp, z, _sigmoid(lm[:33, 4]).astype(np.float32), pts[33:35], flag, roi)

    def mirrored(self, image: np.ndarray, roi: Roi) -> LandmarkResult:
        """The model on the horizontally flipped crop of ``roi``, mapped back (x un-flipped, left
        and right swapped back) so that it describes the unflipped image: a second view of the
        same crop for test-time averaging (flip augmentation, as top-down pose estimators use on
        still images)."""
        crop = roi.crop(image, LANDMARK_SIZE)
        x = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32) * (1.0 / 255.0)
        m = self.run_crop(np.ascontiguousarray(x[:, ::-1]))   # crop pixels of the flipped crop
        perm = list(BLAZE_MIRROR)
        kp = m.keypoints[perm].astype(np.float64)
        kp[:, 0] = MIRROR_X - kp[:, 0]
        aux = m.aux.astype(np.float64).copy()
        aux[:, 0] = MIRROR_X - aux[:, 0]
        kp[:, :2] = roi.project(kp[:, :2], LANDMARK_SIZE)
        z = m.z[perm] * (roi.size / LANDMARK_SIZE)
        return LandmarkResult(kp.astype(np.float32), z.astype(np.float32), m.presence[perm],
                              roi.project(aux, LANDMARK_SIZE), m.score, roi)


def refine_from_heatmap(xy: np.ndarray, heatmap: np.ndarray, kernel: int = 7, min_conf: float = 0.5) -> np.ndarray:
    """Move each landmark to the confidence-weighted centre of its heatmap near the regressed spot.

    As MediaPipe's heatmap refinement for the full model: a ``kernel`` x ``kernel`` window (clipped
    at the heatmap's edge) of the sigmoid of the 64x64 heatmap around each landmark, used only
    where its peak reaches ``min_conf``. All landmarks at once (one gather, no Python loop).
    """
    hm_h, hm_w, n = heatmap.shape
    m = min(n, len(xy))
    out = xy.copy()
    off = (kernel - 1) // 2
    cx = (xy[:m, 0] / LANDMARK_SIZE * hm_w).astype(np.int64)
    cy = (xy[:m, 1] / LANDMARK_SIZE * hm_h).astype(np.int64)
    inside = (cx >= 0) & (cx < hm_w) & (cy >= 0) & (cy < hm_h)
    d = np.arange(-off, off + 1)
    rows = cy[:, None, None] + d[None, :, None]            # (m, k, 1)
    cols = cx[:, None, None] + d[None, None, :]            # (m, 1, k)
    valid = (rows >= 0) & (rows < hm_h) & (cols >= 0) & (cols < hm_w) & inside[:, None, None]
    r = np.clip(rows, 0, hm_h - 1)
    c = np.clip(cols, 0, hm_w - 1)
    win = _sigmoid(heatmap[r, c, np.arange(m)[:, None, None]]) * valid   # (m, k, k)
    total = win.sum(axis=(1, 2))
    use = inside & (win.max(axis=(1, 2)) >= min_conf) & (total > 0)
    safe = np.where(total > 0, total, 1.0)
    ref_x = (win * (c * valid)).sum(axis=(1, 2)) / safe / hm_w * LANDMARK_SIZE
    ref_y = (win * (r * valid)).sum(axis=(1, 2)) / safe / hm_h * LANDMARK_SIZE
    out[:m, 0] = np.where(use, ref_x, xy[:m, 0])
    out[:m, 1] = np.where(use, ref_y, xy[:m, 1])
    return out
