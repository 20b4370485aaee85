"""How close one landmark model is to another, and both to ground truth, on annotated people.

Used by :func:`edgepose.inference.int8.build_int8` to report the int8 model's accuracy against
the float one (``edgepose models quantize``) and by ``tools/quantize_eval.py``. The people come
from the COCO-style (or MPII-list) annotations of ``keypoints/`` and ``tracking/`` of the shared
data; each is cut out as the tracker would frame them and both models run on the same crop.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgepose.errors import ModelError
from edgepose.inference.calibration import LANDMARK_INPUT, crop, default_data_dir, read_rgb
from edgepose.inference.roi import Roi, roi_from_alignment
from edgepose.skeleton import COCO17, COCO_FROM_BLAZE


@dataclass
class AnnotatedPerson:
    """One annotated person: image file, COCO-17 keypoints (17 x 3, v=0 unlabelled) and box."""

    image: Path
    keypoints: np.ndarray
    bbox: tuple[float, float, float, float]
    source: str

    @property
    def labelled(self) -> int:
        return int((self.keypoints[:, 2] > 0).sum())


_MPII16 = ("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "pelvis",
           "thorax", "upper_neck", "head_top", "right_wrist", "right_elbow", "right_shoulder",
           "left_shoulder", "left_elbow", "left_wrist")


def _norm(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _to_coco17(values: np.ndarray, names: list[str]) -> np.ndarray:
    out = np.zeros((17, 3), np.float64)
    for i, n in enumerate(names):
        if n in COCO17 and i < len(values):
            out[COCO17.index(n)] = values[i]
    out[out[:, 2] <= 0] = 0.0
    return out


def _kp_box(k: np.ndarray) -> tuple[float, float, float, float]:
    lab = k[k[:, 2] > 0, :2]
    x0, y0 = lab.min(0)
    x1, y1 = lab.max(0)
    return float(x0), float(y0), float(x1 - x0), float(y1 - y0)


def load_annotations(json_path: Path) -> list[AnnotatedPerson]:
    """People of a COCO-style (any keypoint layout named in ``categories``) or MPII-list JSON."""
    try:
        data = json.loads(Path(json_path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ModelError(f"cannot read annotations {json_path}: {e}") from e
    base = Path(json_path).parent
    people: list[AnnotatedPerson] = []
    if isinstance(data, list):  # MPII: one entry per person
        for e in data:
            j = np.asarray(e["joints"], float)
            v = np.asarray(e["joints_vis"], float)[:, None] * 2
            k = _to_coco17(np.hstack([j, v]), list(_MPII16))
            if k[:, 2].any():
                people.append(AnnotatedPerson(base / e["image"], k, _kp_box(k), str(json_path)))
        return people
    names = [_norm(n) for n in data["categories"][0]["keypoints"]]
    images = {im["id"]: base / im["file_name"] for im in data["images"]}
    for a in data["annotations"]:
        kp = np.asarray(a["keypoints"], float).reshape(-1, 3)
        k = _to_coco17(kp, names if len(names) == len(kp) else list(COCO17))
        if not k[:, 2].any():
            continue
        box = tuple(a["bbox"]) if a.get("bbox") else _kp_box(k)
        people.append(AnnotatedPerson(images[a["image_id"]], k, box, str(json_path)))
    return people


def roi_from_keypoints(k: np.ndarray, margin: float = 1.1) -> Roi | None:
    """A BlazePose-like ROI from ground-truth keypoints (COCO-17).

    Centre at the hip midpoint, turned so that the shoulder midpoint is up, radius = the farthest
    labelled keypoint from the hip centre x ``margin``, then MediaPipe's 1.25 enlargement. Without
    both hips and shoulders: an upright square around the labelled keypoints, 1.5x their extent.
    """
    lab = k[:, 2] > 0
    if lab.sum() < 2:
        return None
    if lab[[5, 6, 11, 12]].all():
        hip = (k[11, :2] + k[12, :2]) / 2
        sho = (k[5, :2] + k[6, :2]) / 2
        up = sho - hip
        n = float(np.hypot(*up))
        if n >= 1.0:
            r = max(float(np.max(np.hypot(*(k[lab, :2] - hip).T))), n) * margin
            return roi_from_alignment(hip, hip + up / n * r)
    x, y, w, h = _kp_box(k)
    side = max(w, h) * 1.5
    if side < 4:
        return None
    return Roi(x + w / 2, y + h / 2, side)


def person_crops(people: Iterable[AnnotatedPerson], min_keypoints: int = 6
                 ) -> list[tuple[AnnotatedPerson, Roi, np.ndarray]]:
    """(person, ROI, 256x256 crop) for each person with at least ``min_keypoints`` labelled."""
    cache: dict[Path, np.ndarray] = {}
    out = []
    for p in people:
        if p.labelled < min_keypoints:
            continue
        roi = roi_from_keypoints(p.keypoints)
        if roi is None:
            continue
        if p.image not in cache:
            cache[p.image] = read_rgb(p.image)
        out.append((p, roi, crop(cache[p.image], roi)))
    return out


def evaluation_people(data_dir: Path, tracking: bool = True) -> list[AnnotatedPerson]:
    """The annotated people of ``keypoints/`` (and ``tracking/``): the evaluation set.

    :func:`calibration_crops` never reads these folders.
    """
    people: list[AnnotatedPerson] = []
    for j in sorted(Path(data_dir).glob("keypoints/*/*.json")):
        people += load_annotations(j)
    if tracking:
        for j in sorted(Path(data_dir).glob("tracking/*/annotations.json")):
            people += load_annotations(j)
    return people


def pck_hits(res, person: AnnotatedPerson, alpha: float = 0.2) -> tuple[int, int]:
    """(correct, labelled) COCO-17 keypoints of ``person`` in a landmark result
    (:class:`edgepose.inference.blazepose.LandmarkResult`, image pixels); threshold ``alpha`` x
    max(box w, h)."""
    pred = res.keypoints[list(COCO_FROM_BLAZE), :2]
    lab = person.keypoints[:, 2] > 0
    thr = alpha * max(person.bbox[2], person.bbox[3])
    d = np.hypot(*(pred[lab] - person.keypoints[lab, :2]).T)
    return int((d <= thr).sum()), int(lab.sum())


@dataclass
class Comparison:
    """Float vs int8 landmark model on annotated person crops."""

    people: int
    keypoints: int
    pck_float: float
    pck_int8: float
    landmark_err_px_mean: float  # |int8 - float| over 33 body landmarks, 256 px crop
    landmark_err_px_p95: float
    visibility_agreement: float  # share of landmarks on the same side of 0.5
    pose_flag_agreement: float  # share of crops on the same side of 0.5
    pose_flag_float_mean: float
    pose_flag_int8_mean: float
    visibility_float_mean: float
    visibility_int8_mean: float

    @property
    def pck_drop_points(self) -> float:
        return 100.0 * (self.pck_float - self.pck_int8)


def compare_models(float_model, int8_model, crops: list[tuple[AnnotatedPerson, Roi, np.ndarray]]) -> Comparison:
    """Run both landmark models (:class:`edgepose.inference.blazepose.LandmarkModel`) on every
    crop and compare them (and both against the ground truth)."""
    hits_f = hits_q = total = 0
    errs, vis_agree, flag_agree = [], [], []
    flags_f, flags_q, vis_f, vis_q = [], [], [], []
    for person, roi, x in crops:
        rf = float_model.run_crop(x, roi)
        rq = int8_model.run_crop(x, roi)
        hf, n = pck_hits(rf, person)
        hq, _ = pck_hits(rq, person)
        hits_f, hits_q, total = hits_f + hf, hits_q + hq, total + n
        # image pixels back to pixels of the 256-px crop
        errs.append(np.hypot(*(rq.keypoints[:, :2] - rf.keypoints[:, :2]).T) * (LANDMARK_INPUT / roi.size))
        vis_agree.append((rq.keypoints[:, 2] >= 0.5) == (rf.keypoints[:, 2] >= 0.5))
        flag_agree.append((rq.score >= 0.5) == (rf.score >= 0.5))
        flags_f.append(rf.score)
        flags_q.append(rq.score)
        vis_f.append(rf.keypoints[:, 2].mean())
        vis_q.append(rq.keypoints[:, 2].mean())
    if not crops:
        raise ModelError("no annotated person crops to compare the models on")
    e = np.concatenate(errs)
    return Comparison(
        people=len(crops), keypoints=total,
        pck_float=hits_f / max(1, total), pck_int8=hits_q / max(1, total),
        landmark_err_px_mean=float(e.mean()), landmark_err_px_p95=float(np.percentile(e, 95)),
        visibility_agreement=float(np.concatenate(vis_agree).mean()),
        pose_flag_agreement=float(np.mean(flag_agree)),
        pose_flag_float_mean=float(np.mean(flags_f)), pose_flag_int8_mean=float(np.mean(flags_q)),
        visibility_float_mean=float(np.mean(vis_f)), visibility_int8_mean=float(np.mean(vis_q)),
    )


def evaluate_models(float_path: Path, int8_path: Path, data_dir: Path | None = None,
                    threads: int = 2) -> Comparison:
    """Compare the two model files on the annotated still images of ``data_dir/keypoints``."""
    from edgepose.inference.blazepose import LandmarkModel

    data_dir = data_dir or default_data_dir()
    crops = person_crops(evaluation_people(data_dir))
    fm = LandmarkModel(float_path, threads=threads, refine_with_heatmap=False)
    qm = LandmarkModel(int8_path, threads=threads, refine_with_heatmap=False)
    return compare_models(fm, qm, crops)
