#!/usr/bin/env python3
"""Which well-visible people the still-image engine misses, and why.

For every annotated person with at least ``--min-keypoints`` labelled keypoints in the COCO-style
ground truth of ``../shared/data`` (the files and person matching of
``../shared/tools/check_contracts.py infer``: greedy by score, OKS >= 0.1) that the engine does
not find, the landmark model is run once more on an *oracle* region -- a square around the
person's annotated keypoints at three sizes, each refined once by the model's own next ROI -- and
the best result is classified:

``detector``   the landmark model finds the person (pose flag >= 0.5, OKS >= 0.5) when it is
               shown where to look: the BlazePose detector (which keys on a face) did not fire
               or gave a ROI the model rejects. A better person detector would recover these.
``unsure``     the oracle region gives the person's keypoints (OKS >= 0.5) but the model's own
               pose flag stays under 0.5, so the engine would reject them from any detector
               (small, seated or half-hidden people).
``hidden``     even the oracle region yields no pose of this person, or only the pose of a
               person the engine already found (someone in front): not recoverable by
               detection, only by tracking through the occlusion in video.

Usage, from the repo root::

    .venv/bin/python tools/recall_misses.py [--data ../shared/data] [--min-keypoints 10] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED_TOOLS = ROOT / ".." / "shared" / "tools"
KINDS = ("detector", "unsure", "hidden")


def _shared():
    p = str(SHARED_TOOLS.resolve())
    if p not in sys.path:
        sys.path.insert(0, p)
    import check_contracts  # noqa: E402
    import coco_eval  # noqa: E402

    return check_contracts, coco_eval


def oracle_best(engine, image: np.ndarray, gt: np.ndarray, area: float, coco_eval):
    """The landmark model's best pose of the annotated person when shown where they are."""
    from edgepose.inference.engine import person_score
    from edgepose.inference.roi import Roi
    from edgepose.pose import Pose

    v = gt[:, 2] > 0
    x0, y0 = gt[v, :2].min(0)
    x1, y1 = gt[v, :2].max(0)
    side = max(x1 - x0, y1 - y0) * 1.3
    best = None
    for k in (1.0, 1.25, 1.5):
        r1 = engine.landmarks.run(image, Roi((x0 + x1) / 2, (y0 + y1) / 2, side * k, 0.0))
        for r in (r1, engine.landmarks.run(image, r1.next_roi())):
            pose = Pose(r.keypoints.copy(), person_score(r))
            oks = coco_eval.oks(gt, area, np.asarray(pose.to_json()["coco17"], float))
            if best is None or oks > best[0]:
                best = (oks, r.score, pose)
    return best


def analyse(data: Path, min_keypoints: int) -> dict:
    cc, coco_eval = _shared()
    from edgepose.inference.engine import EngineConfig, PoseEngine, same_person

    engine = PoseEngine(EngineConfig(max_people=20))
    total, rows = 0, []
    for f in cc.gt_files(data):
        g = coco_eval.normalise_gt(json.load(open(f)))[0]
        for im in g["images"]:
            anns = [a for a in g["annotations"]
                    if a["image_id"] == im["id"] and a["num_keypoints"] >= min_keypoints]
            if not anns:
                continue
            path = (f.parent / im["file_name"]).resolve()
            image = cv2.imread(str(path))
            poses = engine.detect_image(image)
            preds = [np.asarray(p.to_json()["coco17"], float) for p in poses]
            found = {i for i, _, _ in cc.greedy_matches(anns, preds, [p.score for p in poses], 0.1)}
            total += len(anns)
            for i, a in enumerate(anns):
                if i in found:
                    continue
                gt = np.asarray(a["keypoints"], float).reshape(17, 3)
                oks, flag, pose = oracle_best(engine, image, gt, float(a["area"]), coco_eval)
                in_front = any(same_person(pose.keypoints, p.keypoints) for p in poses)
                kind = ("hidden" if oks < 0.5 or in_front else "detector" if flag >= 0.5 else "unsure")
                v = gt[:, 2] > 0
                h = float(gt[v, 1].max() - gt[v, 1].min())
                rows.append({"image": str(path.relative_to(data.resolve())), "annotation": a.get("id"),
                             "labelled": int(a["num_keypoints"]), "height_px": round(h),
                             "oracle_oks": round(float(oks), 2), "oracle_flag": round(float(flag), 2),
                             "same_as_found_person": in_front, "kind": kind})
    kinds = {k: sum(r["kind"] == k for r in rows) for k in KINDS}
    return {"people": total, "found": total - len(rows), "missed": len(rows), **kinds, "misses": rows}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT / ".." / "shared" / "data")
    ap.add_argument("--min-keypoints", type=int, default=10)
    ap.add_argument("--json", type=Path, help="also write the result here")
    a = ap.parse_args(argv)
    if not (SHARED_TOOLS / "coco_eval.py").exists():
        print("needs ../shared/tools (the shared scorers)", file=sys.stderr)
        return 2
    res = analyse(a.data, a.min_keypoints)
    for r in res["misses"]:
        print(f"{r['kind']:8s} {r['image']}  ann {r['annotation']}  {r['labelled']} kp  {r['height_px']} px  "
              f"oracle OKS {r['oracle_oks']:.2f} flag {r['oracle_flag']:.2f}"
              + ("  (= a person already found)" if r["same_as_found_person"] else ""))
    print(f"found {res['found']} of {res['people']}; missed {res['missed']}: "
          f"{res['detector']} a detector miss, {res['unsure']} the model unsure, {res['hidden']} hidden")
    if a.json:
        a.json.write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
