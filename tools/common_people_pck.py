#!/usr/bin/env python3
"""PCK@0.2 of two pipelines on the annotated people *both* find (issue 13: "on the people MediaPipe's
pipeline also finds, PCK no lower than MediaPipe's").

Both files are ``edgepose infer``-format JSON Lines for the images of
``../shared/tools/check_contracts.py infer`` (e.g. edgepose's own ``infer`` output and
``tools/mediapipe_baseline.py images``). Each is matched to the ground truth exactly as the
shared scorer does (``coco_eval.run_pck``: greedy by score, OKS >= 0.1); a person counts when both
pipelines matched them, and PCK@0.2 (bbox-normalised, labelled keypoints) is computed over those
people for each pipeline.

    .venv/bin/python tools/common_people_pck.py A.jsonl B.jsonl [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _poses(path: Path) -> dict[str, list[dict]]:
    out = {}
    for line in path.read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            out[os.path.realpath(r["source"])] = r.get("poses") or []
    return out


def _matches(coco_eval, gts: list[dict], poses: list[dict]) -> list[np.ndarray | None]:
    """The shared scorer's matching: predictions by descending score take the best unmatched
    person with OKS >= 0.1. Returns each person's matched COCO-17 keypoints (or None)."""
    dk = [np.asarray(p["coco17"], float) for p in sorted(poses, key=lambda p: -float(p.get("score", 1.0)))]
    gk = [np.asarray(a["keypoints"], float).reshape(17, 3) for a in gts]
    taken: list[np.ndarray | None] = [None] * len(gts)
    for d in dk:
        best, best_i = 0.1, None
        for i, g in enumerate(gk):
            if taken[i] is not None:
                continue
            o = coco_eval.oks(g, float(gts[i]["area"]), d)
            if o >= best:
                best, best_i = o, i
        if best_i is not None:
            taken[best_i] = d
    return taken


def compare(a_path: Path, b_path: Path, data: Path) -> dict:
    sys.path.insert(0, str(data.parent / "tools"))
    import check_contracts as cc
    import coco_eval

    a, b = _poses(a_path), _poses(b_path)
    hits = {"a": 0, "b": 0}
    total = people = 0
    for f in cc.gt_files(data):
        g = coco_eval.normalise_gt(json.load(open(f)))[0]
        for im in g["images"]:
            src = os.path.realpath(f.parent / im["file_name"])
            gts = [x for x in g["annotations"] if x["image_id"] == im["id"] and x["num_keypoints"] > 0
                   and not x.get("iscrowd", 0)]
            ma, mb = _matches(coco_eval, gts, a.get(src, [])), _matches(coco_eval, gts, b.get(src, []))
            for ann, da, db in zip(gts, ma, mb, strict=True):
                if da is None or db is None:
                    continue
                gk = np.asarray(ann["keypoints"], float).reshape(17, 3)
                lab = gk[:, 2] > 0
                thr = 0.2 * max(ann["bbox"][2], ann["bbox"][3])
                people += 1
                total += int(lab.sum())
                for k, d in (("a", da), ("b", db)):
                    ok = np.linalg.norm(d[:, :2] - gk[:, :2], axis=1) <= thr
                    hits[k] += int((ok & lab).sum())
    return {"people_both_found": people, "keypoints": total,
            "pck_a": round(hits["a"] / total, 4) if total else None,
            "pck_b": round(hits["b"] / total, 4) if total else None,
            "a": str(a_path), "b": str(b_path)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = ap.parse_args(argv)
    print(json.dumps(compare(args.a, args.b, args.data), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
