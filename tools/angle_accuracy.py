#!/usr/bin/env python3
"""Joint-angle accuracy: edgepose's angles against angles from human-annotated keypoints.

On the COCO-style ground truth of ``../shared/data`` (the same files and the same person matching
as ``../shared/tools/check_contracts.py infer``, whose modules are imported from that folder),
the engine runs on every image; each annotated person is matched to a detected one (greedy by
score, OKS >= 0.1), and for each joint angle both sides can measure (all three annotated
keypoints labelled) the absolute difference is collected. Angles on both sides are computed by
the same code (:func:`edgepose.evaluate.angles.measure_pose`), so only the keypoints differ.

Usage, from the repo root::

    .venv/bin/python tools/angle_accuracy.py [--data ../shared/data] [--json FILE] [--min-conf 0.0]

Prints one JSON object: per joint (knee, hip, elbow, shoulder; left and right pooled) the number
of angles compared, the median and the 90th percentile of the absolute difference in degrees,
and the same over all joints. The clinic goniometer's tolerance is about +-5 degrees.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED_TOOLS = ROOT / ".." / "shared" / "tools"
JOINTS = ("knee", "hip", "elbow", "shoulder")


def _shared():
    """The shared scorer modules (imported from ../shared/tools by a repo-relative path)."""
    p = str(SHARED_TOOLS.resolve())
    if p not in sys.path:
        sys.path.insert(0, p)
    import check_contracts  # noqa: E402
    import coco_eval  # noqa: E402

    return check_contracts, coco_eval


def _angles(k17: np.ndarray, min_conf: float) -> dict[str, float]:
    from edgepose.evaluate.angles import measure_pose
    from edgepose.pose import Pose

    ms = measure_pose(Pose(np.asarray(k17, np.float32), 1.0, layout="coco17"))
    out = {}
    for side in ("left", "right"):
        for j in JOINTS:
            m = ms.get(f"{side}_{j}")
            if m is not None and m.conf > min_conf:
                out[f"{side}_{j}"] = m.value
    return out


def measure(data: Path, min_conf: float = 0.0, engine=None) -> dict:
    """Per-joint angle differences (degrees) between the engine's and the annotated keypoints."""
    cc, coco_eval = _shared()
    own = engine is None
    if own:
        from edgepose.inference.engine import EngineConfig, PoseEngine

        engine = PoseEngine(EngineConfig(max_people=20))
    import cv2

    errs: dict[str, list[float]] = {j: [] for j in JOINTS}
    people = matched = 0
    try:
        for f in cc.gt_files(data):
            g = coco_eval.normalise_gt(json.load(open(f)))[0]
            for im in g["images"]:
                anns = [a for a in g["annotations"] if a["image_id"] == im["id"] and a["num_keypoints"] > 0]
                if not anns:
                    continue
                img = cv2.imread(str(f.parent / im["file_name"]))
                if img is None:
                    raise FileNotFoundError(f"{f.parent / im['file_name']}: cannot read the annotated image")
                poses = engine.detect_image(img)
                preds = [p.coco17() for p in poses]
                people += len(anns)
                for i, j, _ in cc.greedy_matches(anns, preds, [p.score for p in poses], 0.1):
                    matched += 1
                    gk = np.asarray(anns[i]["keypoints"], float).reshape(17, 3)
                    gk[:, 2] = (gk[:, 2] > 0).astype(float)  # labelled = seen, for the annotation
                    ga, da = _angles(gk, 0.5), _angles(preds[j], min_conf)
                    for name in ga.keys() & da.keys():
                        errs[name.split("_", 1)[1]].append(abs(ga[name] - da[name]))
    finally:
        if own:
            engine.close()

    def stats(v: list[float]) -> dict:
        if not v:
            return {"n": 0, "median_deg": None, "p90_deg": None}
        a = np.asarray(v)
        return {"n": int(a.size), "median_deg": round(float(np.median(a)), 2), "p90_deg": round(float(np.percentile(a, 90)), 2)}

    out = {j: stats(errs[j]) for j in JOINTS}
    out["all"] = stats([e for v in errs.values() for e in v])
    out["people"], out["matched_people"], out["min_conf"] = people, matched, min_conf
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT / ".." / "shared" / "data")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--min-conf", type=float, default=0.0,
                    help="judge only angles edgepose saw with more than this confidence (default 0: all)")
    a = ap.parse_args(argv)
    res = measure(a.data, a.min_conf)
    text = json.dumps(res, indent=1)
    print(text)
    if a.json:
        a.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
