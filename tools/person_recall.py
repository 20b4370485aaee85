"""Person recall of the person detectors on the shared annotated images (boxes, before any pose).

    .venv/bin/python tools/person_recall.py [--data ../shared/data] [--model PATH] [--threshold 0.3]

For every annotated person (labelled keypoints > 0) of every ``keypoints/*/*.json`` (MPII skipped)
and ``tracking/*/annotations.json`` image, as ``check_contracts.py infer`` uses them:

* **CenterNet IoU >= 0.5**: a person box of :class:`edgepose.inference.person_detector.PersonDetector`
  with IoU >= 0.5 against the annotated box (from the keypoints, enlarged by 15 %, where the file has
  no box), matched one to one, best IoU first;
* **ROI hit** (both detectors): the square ROI the landmark model would be shown holds at least 80 %
  of the person's labelled keypoints and its side is at most 2.5x the person's longer box side --
  the fair measure for BlazePose's detector, whose box is a face.

Also: false boxes (CenterNet boxes matching nobody) on the Bonn frames, where all four people are
annotated, and ms per detector call. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _gt(data: Path) -> list[tuple[Path, list[np.ndarray], list[np.ndarray], str]]:
    sys.path.insert(0, str(data.parent / "tools"))
    import coco_eval

    files = sorted(data.glob("keypoints/*/*.json")) + sorted(data.glob("tracking/*/annotations.json"))
    out = []
    for f in files:
        if "mpii" in f.parent.name:
            continue
        g = coco_eval.normalise_gt(json.load(open(f)))[0]
        raw = {a["id"]: a for a in json.load(open(f))["annotations"]}
        for im in g["images"]:
            boxes, kps = [], []
            for a in g["annotations"]:
                if a["image_id"] != im["id"] or a["num_keypoints"] <= 0:
                    continue
                k = np.asarray(a["keypoints"], float).reshape(17, 3)
                lab = k[k[:, 2] > 0, :2]
                if raw.get(a["id"], {}).get("bbox"):
                    x, y, w, h = a["bbox"]
                    b = np.array([x, y, x + w, y + h])
                else:
                    x0, y0 = lab.min(0)
                    x1, y1 = lab.max(0)
                    cx, cy, hw, hh = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) * 0.575, (y1 - y0) * 0.575
                    b = np.array([cx - hw, cy - hh, cx + hw, cy + hh])
                boxes.append(b)
                kps.append(lab)
            out.append((f.parent / im["file_name"], boxes, kps, f.parent.parent.name + "/" + f.parent.name))
    return out


def _roi_hit(roi, kp: np.ndarray, box: np.ndarray) -> bool:
    inside = np.mean([roi.contains(float(x), float(y)) for x, y in kp])
    return bool(inside >= 0.8 and roi.size <= 2.5 * max(box[2] - box[0], box[3] - box[1]))


def _match_iou(pred: list[np.ndarray], gt: list[np.ndarray], thr: float = 0.5) -> tuple[int, int]:
    from edgepose.inference.person_detector import box_iou

    if not pred or not gt:
        return 0, len(pred)
    iou = box_iou(np.array(gt), np.array(pred))
    hits, used_p = 0, set()
    for i, j in sorted(np.ndindex(iou.shape), key=lambda ij: -iou[ij]):
        if iou[i, j] < thr:
            break
        if i in used_p or ("p", j) in used_p:
            continue
        used_p.add(i)
        used_p.add(("p", j))
        hits += 1
    return hits, len(pred) - hits


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--model", type=Path, default=None, help="converted CenterNet (default: the manifest's)")
    ap.add_argument("--threshold", type=float, default=0.3)
    ap.add_argument("--nms", type=float, default=0.4)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)

    import cv2

    from edgepose.inference import models
    from edgepose.inference.blazepose import PoseDetector
    from edgepose.inference.person_detector import PersonDetector

    path = a.model or models.verified_path("person_detector")
    cn = PersonDetector(path, a.threads, score_threshold=a.threshold, nms_iou=a.nms)
    bp = PoseDetector(models.verified_path("pose_detection"), a.threads)
    people = iou_hits = cn_roi = bp_roi = 0
    bonn_false = bonn_frames = 0
    ms_cn: list[float] = []
    ms_bp: list[float] = []
    per_set: dict[str, list[int]] = {}
    for img_path, boxes, kps, name in _gt(a.data):
        img = cv2.imread(str(img_path))
        t0 = time.perf_counter()
        pb = cn.detect(img)
        ms_cn.append((time.perf_counter() - t0) * 1e3)
        t0 = time.perf_counter()
        dets = bp.detect(img)
        ms_bp.append((time.perf_counter() - t0) * 1e3)
        hits, false = _match_iou([b.as_array() for b in pb], boxes)
        iou_hits += hits
        people += len(boxes)
        s = per_set.setdefault(name, [0, 0, 0])
        s[0] += len(boxes)
        s[1] += hits
        if "tracking" in name:
            bonn_false += false
            bonn_frames += 1
        for b, k in zip(boxes, kps, strict=True):
            if any(_roi_hit(p.roi(), k, b) for p in pb):
                cn_roi += 1
            if any(_roi_hit(d.roi(), k, b) for d in dets):
                bp_roi += 1
                s[2] += 1
    out = {"people": people, "centernet_recall_iou50": round(iou_hits / people, 4),
           "centernet_recall_roi": round(cn_roi / people, 4), "blazepose_detector_recall_roi": round(bp_roi / people, 4),
           "centernet_false_boxes_bonn": bonn_false, "bonn_frames": bonn_frames,
           "ms_per_call_centernet_median": round(float(np.median(ms_cn[1:])), 2),
           "ms_per_call_blazepose_median": round(float(np.median(ms_bp[1:])), 2),
           "per_set": {k: {"people": v[0], "centernet_iou50": v[1], "blazepose_roi": v[2]} for k, v in per_set.items()},
           "threshold": a.threshold, "nms_iou": a.nms, "threads": a.threads}
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
